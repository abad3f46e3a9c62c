// The stored form of a user, and the checks every backend applies to it.

import { GatewayError } from '../errors.js';

export interface UserRecord {
  readonly username: string;
  readonly role: string;
  /** `scrypt$N$r$p$salt$key`; never logged. */
  readonly passwordHash: string;
  /** Base32 TOTP secret; never logged. */
  readonly totpSecret: string;
  readonly disabled: boolean;
  /**
   * Calling AE titles the user may use over DICOM; absent: any (the role's `aeTitles` may still limit
   * them). Without a limit a user can present a modality's AE title, and a PACS that grants rights
   * per calling AE title gives them that modality's rights (docs/dicom.md).
   */
  readonly aeTitles?: readonly string[];
  /**
   * `ldap`: the password is the hospital directory's (users.ldap), the role the one its groups map to
   * at the last login; the record keeps only the TOTP secret and the gateway's own settings, and its
   * passwordHash is empty. Absent: a local user.
   */
  readonly source?: 'ldap';
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
/** An AE title as the config schema allows it: 1–16 characters of the default repertoire without backslash (PS3.5 §6.2 AE). */
export const AE_TITLE_PATTERN = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

export function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new GatewayError('ERR_USERNAME_INVALID', `username "${username.slice(0, 70)}" is not valid: use 1–64 lower-case letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  }
}

/** Validates one entry read from a users file or Redis; returns a problem description or the record. */
export function parseUserRecord(username: string, raw: unknown): UserRecord | string {
  if (!USERNAME_PATTERN.test(username)) return `users.${username}: invalid username`;
  if (typeof raw !== 'object' || raw === null) return `users.${username}: must be a mapping`;
  const r = { ...(raw as Record<string, unknown>) };
  if (r['source'] !== undefined && r['source'] !== 'ldap') return `users.${username}.source: must be ldap (or absent for a local user)`;
  const ldap = r['source'] === 'ldap';
  // A directory user's role comes from the directory's groups at login: empty until the first one.
  if (ldap && r['role'] === undefined) r['role'] = '';
  if (typeof r['role'] !== 'string') return `users.${username}.role: must be a role name`;
  if (ldap) {
    if (r['passwordHash'] !== undefined && r['passwordHash'] !== '') return `users.${username}.passwordHash: a user with source ldap has no local password (the directory checks it)`;
    r['passwordHash'] = '';
  } else if (typeof r['passwordHash'] !== 'string' || !r['passwordHash'].startsWith('scrypt$')) return `users.${username}.passwordHash: must be an scrypt hash written by "pacs-gateway users add"`;
  if (typeof r['totpSecret'] !== 'string' || !/^[A-Z2-7]{26,}$/.test(r['totpSecret'])) return `users.${username}.totpSecret: must be a base32 secret of at least 128 bits`;
  if (r['disabled'] !== undefined && typeof r['disabled'] !== 'boolean') return `users.${username}.disabled: must be true or false`;
  const ae = r['aeTitles'];
  if (ae !== undefined && (!Array.isArray(ae) || !ae.every((a) => typeof a === 'string' && AE_TITLE_PATTERN.test(a) && a.trim() === a))) {
    return `users.${username}.aeTitles: must be a list of AE titles (1–16 characters, no backslash, no leading or trailing space)`;
  }
  const now = new Date(0).toISOString();
  return {
    username,
    role: r['role'],
    passwordHash: r['passwordHash'] as string,
    totpSecret: r['totpSecret'],
    disabled: r['disabled'] === true,
    ...(ae === undefined ? {} : { aeTitles: ae as string[] }),
    ...(ldap ? { source: 'ldap' as const } : {}),
    createdAt: typeof r['createdAt'] === 'string' ? r['createdAt'] : now,
    updatedAt: typeof r['updatedAt'] === 'string' ? r['updatedAt'] : now,
  };
}
