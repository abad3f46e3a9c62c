// Password hashing with node's scrypt (memory-hard, salted), in a self-describing string format.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { WorkLimiter, type WorkLimits } from '../util/work-limiter.js';
import { COMMON_PASSWORDS } from './common-passwords.js';

/** OWASP ASVS 2.4.3 / password storage cheat sheet: N = 2^17, r = 8, p = 1. */
export const SCRYPT_PARAMS = Object.freeze({ N: 2 ** 17, r: 8, p: 1, keyLength: 32, saltLength: 16 });
const MAXMEM = 256 * 1024 * 1024;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;

function derive(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, { N, r, p, maxmem: MAXMEM }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Refuses passwords that are too short, too long or on the common-password list (NIST 800-63B §5.1.1.2). */
export function checkPasswordStrength(password: string, username?: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new GatewayError('ERR_PASSWORD_WEAK', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new GatewayError('ERR_PASSWORD_WEAK', `password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower) || (username !== undefined && lower.includes(username.toLowerCase()))) {
    throw new GatewayError('ERR_PASSWORD_WEAK', 'password is too common or contains the username; choose another');
  }
}

/** Hashes a password into `scrypt$N$r$p$salt$key` (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyLength, saltLength } = SCRYPT_PARAMS;
  const salt = randomBytes(saltLength);
  const key = await derive(password, salt, N, r, p, keyLength);
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Verifies a password against a stored hash in constant time. A malformed hash never verifies. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 2 ** 20) return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (expected.length < 16 || password.length > MAX_PASSWORD_LENGTH) return false;
  const actual = await derive(password, salt, N, r, p, expected.length);
  return timingSafeEqual(actual, expected);
}

let dummyHash: Promise<string> | undefined;
/** A hash to verify against when the user does not exist, so both paths cost the same. */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

/**
 * Password checks as a client may ask for them before it is authenticated: each one is an scrypt
 * run of 128 MiB and a few hundred ms of a core (SCRYPT_PARAMS), so at most `concurrency` run at
 * once, at most `queue` wait, and one source address may have at most `perKey` running or waiting
 * (login.maxConcurrentChecks, maxQueuedChecks, maxChecksPerAddress). Beyond that: ERR_BUSY.
 */
export class PasswordChecker {
  readonly #limiter: WorkLimiter;

  constructor(limits: WorkLimits) {
    this.#limiter = new WorkLimiter(limits);
  }

  /**
   * Verifies `password` against `stored`, or against a dummy hash when there is no such user (so
   * both cost the same). `source` is the per-address key of the client. Throws ERR_BUSY.
   */
  verify(password: string, stored: string | undefined, source: string): Promise<boolean> {
    return this.#limiter.run(source, async () => verifyPassword(password, stored ?? (await dummyPasswordHash())));
  }

  /**
   * Runs another password check (a directory bind, src/identity/ldap/) within the same limits, so
   * logins of directory users are bounded and refused with ERR_BUSY exactly like local ones.
   */
  run<T>(source: string, check: () => Promise<T>): Promise<T> {
    return this.#limiter.run(source, check);
  }

  /** Checks running and waiting now. */
  get load(): { readonly running: number; readonly waiting: number } {
    return this.#limiter.load;
  }
}
