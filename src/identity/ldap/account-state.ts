// Whether a directory account may log in, from the attributes of its entry (Active Directory and OpenLDAP).

/** The attributes read from the user entry to decide its state. */
export const ACCOUNT_STATE_ATTRIBUTES = ['userAccountControl', 'accountExpires', 'pwdAccountLockedTime'] as const;

/** AD userAccountControl flags (MS-ADTS 2.2.16): ACCOUNTDISABLE and LOCKOUT. */
const ACCOUNTDISABLE = 0x2;
const LOCKOUT = 0x10;
/** AD accountExpires: 0 and 2^63-1 both mean "never". */
const NEVER = new Set(['0', '9223372036854775807']);
/** Milliseconds between 1601-01-01 (FILETIME epoch) and 1970-01-01. */
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

export type AccountProblem = 'directory-account-disabled' | 'directory-account-expired' | 'directory-account-locked';

function first(entry: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined) return undefined;
  return Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

/**
 * What keeps the account from logging in, or undefined when nothing does. Checked:
 * AD userAccountControl bit 2 (disabled) and bit 16 (locked out), AD accountExpires in the past
 * (at `now`), OpenLDAP ppolicy pwdAccountLockedTime present (any value: locked). A value that
 * cannot be read counts against the account (fail closed).
 */
export function accountProblem(entry: Readonly<Record<string, unknown>>, now: number): AccountProblem | undefined {
  const uac = first(entry, 'userAccountControl');
  if (uac !== undefined) {
    const flags = Number(uac);
    if (!Number.isInteger(flags)) return 'directory-account-disabled';
    if ((flags & ACCOUNTDISABLE) !== 0) return 'directory-account-disabled';
    if ((flags & LOCKOUT) !== 0) return 'directory-account-locked';
  }
  const expires = first(entry, 'accountExpires');
  if (expires !== undefined && !NEVER.has(expires.trim())) {
    if (!/^\d{1,19}$/.test(expires.trim())) return 'directory-account-expired';
    const ms = BigInt(expires.trim()) / 10_000n - FILETIME_EPOCH_OFFSET_MS;
    if (ms <= BigInt(now)) return 'directory-account-expired';
  }
  if (first(entry, 'pwdAccountLockedTime') !== undefined) return 'directory-account-locked';
  return undefined;
}
