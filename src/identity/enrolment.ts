// Enrolment by invite link: a pending user, a one-time token (only its SHA-256 kept), and the steps
// the enrolment page takes (choose a password, confirm a code) on whichever user directory is in use.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { checkPasswordStrength, hashPassword } from './password.js';
import { generateTotpSecret, matchTotp } from './totp.js';
import type { UserDirectory } from './user-directory.js';
import type { InviteRecord, UserRecord } from './user-record.js';

/** 256 bits from the CSPRNG (the issue asks for at least 128), base64url: 43 characters. */
const TOKEN_BYTES = 32;
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface Invitation {
  readonly username: string;
  readonly role: string;
  /** The one-time link; shown once, never stored. */
  readonly inviteUrl: string;
  readonly expiresAt: string;
}

export function hashInviteToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The enrolment link of `token` under `baseUrl` (enrolment.baseUrl: the gateway's public https origin). */
export function inviteUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/enrol/${token}`;
}

function newInvite(hours: number, now: number, email: string | undefined): { token: string; invite: InviteRecord } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return {
    token,
    invite: { tokenHash: hashInviteToken(token), expiresAt: new Date(now + hours * 3_600_000).toISOString(), ...(email === undefined ? {} : { email }) },
  };
}

/** `users invite`: a new pending user with a fresh TOTP secret and no password yet. ERR_USER_EXISTS when taken. */
export async function inviteUser(dir: UserDirectory, o: { username: string; role: string; email?: string; hours: number; baseUrl: string; now?: number }): Promise<Invitation> {
  const now = o.now ?? Date.now();
  const { token, invite } = newInvite(o.hours, now, o.email);
  const at = new Date(now).toISOString();
  await dir.add({
    username: o.username, role: o.role, passwordHash: '', totpSecret: generateTotpSecret(), disabled: false,
    createdAt: at, updatedAt: at, pending: true, invite,
  });
  return { username: o.username, role: o.role, inviteUrl: inviteUrl(o.baseUrl, token), expiresAt: invite.expiresAt };
}

/**
 * `users reset-totp --invite`: the user goes back to pending (no channel admits them; their sessions
 * end through the credential change) with a new TOTP secret and a new link, on which they choose a
 * password again and scan the new code.
 */
export async function reinviteUser(dir: UserDirectory, o: { username: string; hours: number; baseUrl: string; now?: number }): Promise<Invitation> {
  const user = await dir.get(o.username);
  if (user === undefined) throw new GatewayError('ERR_USER_UNKNOWN', `no user "${o.username}"`);
  const now = o.now ?? Date.now();
  const fresh = newInvite(o.hours, now, user.invite?.email);
  // A directory user's password stays the directory's: their link only sets up the authenticator.
  const invite = user.source === 'ldap' ? { ...fresh.invite, passwordChosen: true } : fresh.invite;
  const token = fresh.token;
  await dir.update(o.username, { pending: true, passwordHash: '', totpSecret: generateTotpSecret(), invite });
  return { username: o.username, role: user.role, inviteUrl: inviteUrl(o.baseUrl, token), expiresAt: invite.expiresAt };
}

/** `users revoke-invite`: the link stops working; a user who never enrolled is removed from enrolment (stays pending, no link). */
export async function revokeInvite(dir: UserDirectory, username: string): Promise<boolean> {
  const user = await dir.get(username);
  if (user === undefined) throw new GatewayError('ERR_USER_UNKNOWN', `no user "${username}"`);
  if (user.invite === undefined || user.invite.revoked === true || user.pending !== true) return false;
  // Marked, not removed: a directory update leaves out undefined fields.
  await dir.update(username, { invite: { ...user.invite, revoked: true } });
  return true;
}

/** Why a link does not open: unknown (never issued, used or revoked) or expired. The page says the same for both. */
export type InviteProblem = 'invite-unknown' | 'invite-expired';

/** The pending user whose open link is `token`, or why there is none. */
export async function findInvite(dir: UserDirectory, token: string, now: number): Promise<{ user: UserRecord & { invite: InviteRecord } } | { problem: InviteProblem }> {
  if (!TOKEN_PATTERN.test(token)) return { problem: 'invite-unknown' };
  const wanted = Buffer.from(hashInviteToken(token), 'hex');
  for (const u of await dir.list()) {
    // A disabled user's link is dead too: enrolling would end in a sign-in (and an auth.login allow) for them.
    if (u.invite === undefined || u.pending !== true || u.invite.revoked === true || u.disabled) continue;
    if (!timingSafeEqual(Buffer.from(u.invite.tokenHash, 'hex'), wanted)) continue;
    if (Date.parse(u.invite.expiresAt) <= now) return { problem: 'invite-expired' };
    return { user: u as UserRecord & { invite: InviteRecord } };
  }
  return { problem: 'invite-unknown' };
}

/** Step 1: the password (same policy as the CLI; ERR_PASSWORD_WEAK with the reason). */
export async function choosePassword(dir: UserDirectory, user: UserRecord & { invite: InviteRecord }, password: string): Promise<void> {
  // Never a local password on a directory user's record (the users file would no longer load).
  if (user.source === 'ldap') throw new GatewayError('ERR_PASSWORD_WEAK', 'your password is the hospital directory\'s; only the authenticator is set up here');
  checkPasswordStrength(password, user.username);
  await dir.update(user.username, { passwordHash: await hashPassword(password), invite: { ...user.invite, passwordChosen: true } });
}

/**
 * Step 2: a current code of the secret shown on the page. On success the link is used up and the
 * user active; returns the record as stored, and the code's time step (for the replay mark).
 */
export async function confirmEnrolment(dir: UserDirectory, user: UserRecord & { invite: InviteRecord }, code: string, now: number): Promise<{ user: UserRecord; step: number } | undefined> {
  if (user.invite.passwordChosen !== true) return undefined;
  const step = await matchTotp(user.totpSecret, code.trim(), now);
  if (step === null) return undefined;
  // Used up: the invite stays on record (a directory update leaves out undefined fields) but only a pending user's opens.
  const active = await dir.update(user.username, { pending: false, invite: { ...user.invite, revoked: true } });
  return { user: active, step };
}

export { generateTotpSecret };
