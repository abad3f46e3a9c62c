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
  /**
   * Invited, not yet enrolled (`users invite`, `users reset-totp --invite`): no channel admits the
   * user until they chose a password and confirmed a code on the enrolment page (src/http/enrol-routes.ts).
   */
  readonly pending?: boolean;
  /** The open enrolment link of a pending user: only its SHA-256 is kept. */
  readonly invite?: InviteRecord;
}

export interface InviteRecord {
  /** SHA-256 (hex) of the link's token; the token itself is never stored. */
  readonly tokenHash: string;
  readonly expiresAt: string;
  readonly email?: string;
  /** The password was chosen on the enrolment page; the code is still to be confirmed. */
  readonly passwordChosen?: boolean;
  /** Used or withdrawn (`users revoke-invite`): the link is dead. */
  readonly revoked?: boolean;
}

function parseInvite(username: string, raw: unknown): InviteRecord | string {
  if (typeof raw !== 'object' || raw === null) return `users.${username}.invite: must be a mapping`;
  const r = raw as Record<string, unknown>;
  if (typeof r['tokenHash'] !== 'string' || !/^[0-9a-f]{64}$/.test(r['tokenHash'])) return `users.${username}.invite.tokenHash: must be a SHA-256 in hex`;
  if (typeof r['expiresAt'] !== 'string' || Number.isNaN(Date.parse(r['expiresAt']))) return `users.${username}.invite.expiresAt: must be a date`;
  if (r['email'] !== undefined && typeof r['email'] !== 'string') return `users.${username}.invite.email: must be a string`;
  return {
    tokenHash: r['tokenHash'], expiresAt: r['expiresAt'],
    ...(typeof r['email'] === 'string' ? { email: r['email'] } : {}),
    ...(r['passwordChosen'] === true ? { passwordChosen: true } : {}),
    ...(r['revoked'] === true ? { revoked: true } : {}),
  };
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
  const pending = r['pending'] === true;
  if (r['pending'] !== undefined && typeof r['pending'] !== 'boolean') return `users.${username}.pending: must be true or false`;
  if (ldap) {
    if (r['passwordHash'] !== undefined && r['passwordHash'] !== '') return `users.${username}.passwordHash: a user with source ldap has no local password (the directory checks it)`;
    r['passwordHash'] = '';
  } else if (pending && r['passwordHash'] === '') {
    // A pending user has no password until they choose one on the enrolment page.
  } else if (typeof r['passwordHash'] !== 'string' || !r['passwordHash'].startsWith('scrypt$')) return `users.${username}.passwordHash: must be an scrypt hash written by "pacs-gateway users add"`;
  if (typeof r['totpSecret'] !== 'string' || !/^[A-Z2-7]{26,}$/.test(r['totpSecret'])) return `users.${username}.totpSecret: must be a base32 secret of at least 128 bits`;
  if (r['disabled'] !== undefined && typeof r['disabled'] !== 'boolean') return `users.${username}.disabled: must be true or false`;
  const ae = r['aeTitles'];
  if (ae !== undefined && (!Array.isArray(ae) || !ae.every((a) => typeof a === 'string' && AE_TITLE_PATTERN.test(a) && a.trim() === a))) {
    return `users.${username}.aeTitles: must be a list of AE titles (1–16 characters, no backslash, no leading or trailing space)`;
  }
  const invite = r['invite'] === undefined ? undefined : parseInvite(username, r['invite']);
  if (typeof invite === 'string') return invite;
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
    ...(pending ? { pending: true } : {}),
    ...(invite === undefined ? {} : { invite }),
  };
}
