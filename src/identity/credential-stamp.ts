// A stamp of what a user proved at login (password and TOTP secret), so that changing either ends what the login made.

import { createHash } from 'node:crypto';
import type { UserRecord } from './user-record.js';

/** The fields of a user record the stamp is made of. */
export type Credentials = Pick<UserRecord, 'passwordHash' | 'totpSecret'>;

/** Why a user no longer holds what a session, token or association was made with. */
export type UserProblem = 'user-unknown' | 'user-disabled' | 'user-pending' | 'credentials-changed';

/** Stamps per record object: directories hand out the same object until it changes, so this is a lookup per request. */
const stamps = new WeakMap<Credentials, string>();

/**
 * A short one-way digest of the user's password hash and TOTP secret. Sessions and DIMSE
 * associations keep the stamp of the login that made them; a password change (`users
 * set-password`) or a TOTP reset (`users reset-totp`) gives a new stamp, and whatever carries the
 * old one is refused. It reveals nothing usable (a digest of a salted hash) and is never logged.
 */
export function credentialStamp(user: Credentials): string {
  let s = stamps.get(user);
  if (s === undefined) {
    s = createHash('sha256').update(user.passwordHash).update('\0').update(user.totpSecret).digest('base64url').slice(0, 22);
    stamps.set(user, s);
  }
  return s;
}

/** Whether `user` (as the directory has it now) still holds the credentials stamped `stamp`; a missing stamp never does. */
export function userProblem(user: UserRecord | undefined, stamp: string | undefined): UserProblem | undefined {
  if (user === undefined) return 'user-unknown';
  if (user.disabled) return 'user-disabled';
  if (user.pending === true) return 'user-pending';
  if (stamp === undefined || credentialStamp(user) !== stamp) return 'credentials-changed';
  return undefined;
}
