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
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

export function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new GatewayError('ERR_USERNAME_INVALID', `username "${username.slice(0, 70)}" is not valid: use 1–64 lower-case letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  }
}

/** Validates one entry read from a users file or Redis; returns a problem description or the record. */
export function parseUserRecord(username: string, raw: unknown): UserRecord | string {
  if (!USERNAME_PATTERN.test(username)) return `users.${username}: invalid username`;
  if (typeof raw !== 'object' || raw === null) return `users.${username}: must be a mapping`;
  const r = raw as Record<string, unknown>;
  if (typeof r['role'] !== 'string') return `users.${username}.role: must be a role name`;
  if (typeof r['passwordHash'] !== 'string' || !r['passwordHash'].startsWith('scrypt$')) return `users.${username}.passwordHash: must be an scrypt hash written by "pacs-gateway users add"`;
  if (typeof r['totpSecret'] !== 'string' || !/^[A-Z2-7]{26,}$/.test(r['totpSecret'])) return `users.${username}.totpSecret: must be a base32 secret of at least 128 bits`;
  if (r['disabled'] !== undefined && typeof r['disabled'] !== 'boolean') return `users.${username}.disabled: must be true or false`;
  const now = new Date(0).toISOString();
  return {
    username,
    role: r['role'],
    passwordHash: r['passwordHash'],
    totpSecret: r['totpSecret'],
    disabled: r['disabled'] === true,
    createdAt: typeof r['createdAt'] === 'string' ? r['createdAt'] : now,
    updatedAt: typeof r['updatedAt'] === 'string' ? r['updatedAt'] : now,
  };
}
