// Password + TOTP login: constant answers, replay refusal, failure counting and lockouts.

import { GatewayError } from '../errors.js';
import type { Audit, AuditContext } from '../audit/audit.js';
import type { StateStore } from '../state/store.js';
import type { Clock } from '../util/clock.js';
import { dummyPasswordHash, verifyPassword } from './password.js';
import { matchTotp, TOTP_PERIOD_SECONDS } from './totp.js';
import type { UserDirectory } from './user-directory.js';
import type { UserRecord } from './user-record.js';

export interface LockoutPolicy {
  readonly userMaxFailures: number;
  readonly addressMaxFailures: number;
  readonly windowMinutes: number;
  readonly lockMinutes: number;
}

export interface LoginAttempt {
  readonly username: string;
  readonly password: string;
  readonly totp: string;
  readonly source: string;
  /** How the attempt arrived, for the audit trail. */
  readonly channel: 'http' | 'dicom';
  /** The HTTP request or DICOM association of the attempt: on its audit events and alerts. */
  readonly context?: AuditContext;
}

/** The internal reason of a login failure (unknown-user, wrong-totp, locked-out:user …), for the caller's own audit event; never shown to the user. */
export function loginFailureReason(err: unknown): string | undefined {
  const cause = err instanceof GatewayError ? (err.cause as { loginFailure?: unknown } | undefined) : undefined;
  return typeof cause?.loginFailure === 'string' ? cause.loginFailure : undefined;
}

/** Internal reasons, written to the audit trail only; the caller always sees ERR_LOGIN_FAILED. */
type FailureReason = 'unknown-user' | 'user-disabled' | 'wrong-password' | 'wrong-totp' | 'totp-replayed' | 'malformed';

const MIN = 60_000;
const REPLAY_TTL_MS = 4 * TOTP_PERIOD_SECONDS * 1000; // longer than the ±1 step acceptance window

export class LoginService {
  readonly #users: UserDirectory;
  readonly #store: StateStore;
  readonly #audit: Audit;
  readonly #clock: Clock;
  readonly #policy: LockoutPolicy;

  constructor(deps: { users: UserDirectory; store: StateStore; audit: Audit; clock: Clock; policy: LockoutPolicy }) {
    this.#users = deps.users;
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#policy = deps.policy;
  }

  /**
   * Checks password and TOTP code. Resolves the user on success; otherwise throws
   * ERR_LOGIN_FAILED (same answer whatever went wrong), ERR_LOCKED_OUT, or ERR_STORE_UNAVAILABLE.
   */
  async login(a: LoginAttempt): Promise<UserRecord> {
    const now = this.#clock();
    const username = a.username.trim().toLowerCase().slice(0, 128);
    const locked = await this.#lockedUntil(username, a.source, now);
    if (locked !== null) {
      this.#record(a, username, 'deny', `locked-out:${locked.scope}`);
      throw new GatewayError('ERR_LOCKED_OUT', `Too many failed attempts; try again after ${new Date(locked.until).toISOString()}`, {
        detail: { retryAfterSeconds: Math.max(1, Math.ceil((locked.until - now) / 1000)) }, cause: { loginFailure: `locked-out:${locked.scope}` },
      });
    }
    const user = username.length <= 64 ? await this.#users.get(username) : undefined;
    const passwordOk = await verifyPassword(a.password, user?.passwordHash ?? (await dummyPasswordHash()));
    let reason: FailureReason | undefined;
    if (user === undefined) reason = 'unknown-user';
    else if (!passwordOk) reason = 'wrong-password';
    else if (user.disabled) reason = 'user-disabled';
    let step: number | null = null;
    if (reason === undefined && user !== undefined) {
      step = await matchTotp(user.totpSecret, a.totp, now);
      if (step === null) reason = 'wrong-totp';
      else if (!(await this.#store.setIfGreater(`totp-used:${username}`, step, REPLAY_TTL_MS))) reason = 'totp-replayed';
    }
    if (reason !== undefined || user === undefined) {
      await this.#fail(a, username, reason ?? 'unknown-user', now);
      // The cause is for the caller's audit event (a DICOM association's refusal); the answer stays the same whatever went wrong.
      throw new GatewayError('ERR_LOGIN_FAILED', undefined, { cause: { loginFailure: reason ?? 'unknown-user' } });
    }
    await this.#clearFailures('user', username, now);
    this.#record(a, username, 'allow', 'password-and-totp-valid');
    return user;
  }

  /** Failures are counted in fixed buckets of windowMinutes; a count spans this bucket and the one before. */
  #failKey(scope: 'user' | 'addr', id: string, now: number, bucketsBack = 0): string {
    const windowMs = this.#policy.windowMinutes * MIN;
    return `fail:${scope}:${id}:${Math.floor(now / windowMs) - bucketsBack}`;
  }

  /** Counts one failure; returns the failures in this bucket and the previous one, so a window boundary does not reset the count. */
  async #countFailure(scope: 'user' | 'addr', id: string, now: number): Promise<number> {
    const windowMs = this.#policy.windowMinutes * MIN;
    const [current, previous] = await Promise.all([
      this.#store.increment(this.#failKey(scope, id, now), windowMs * 2),
      this.#store.getNumber(this.#failKey(scope, id, now, 1)),
    ]);
    return current + previous;
  }

  async #clearFailures(scope: 'user' | 'addr', id: string, now: number): Promise<void> {
    await Promise.all([this.#store.deleteRecord(this.#failKey(scope, id, now)), this.#store.deleteRecord(this.#failKey(scope, id, now, 1))]);
  }

  async #lockedUntil(username: string, source: string, now: number): Promise<{ scope: 'user' | 'address'; until: number } | null> {
    const [u, s] = await Promise.all([this.#store.getNumber(`lock:user:${username}`), this.#store.getNumber(`lock:addr:${source}`)]);
    if (u > now) return { scope: 'user', until: u };
    if (s > now) return { scope: 'address', until: s };
    return null;
  }

  async #fail(a: LoginAttempt, username: string, reason: FailureReason, now: number): Promise<void> {
    this.#record(a, username, 'deny', reason);
    const lockMs = this.#policy.lockMinutes * MIN;
    const [byUser, byAddr] = await Promise.all([this.#countFailure('user', username, now), this.#countFailure('addr', a.source, now)]);
    if (byUser >= this.#policy.userMaxFailures) {
      await this.#store.setNumber(`lock:user:${username}`, now + lockMs, lockMs * 2);
      await this.#clearFailures('user', username, now);
      this.#audit.alert('lockout.user', { username, source: a.source, failures: byUser, lockedUntil: new Date(now + lockMs).toISOString(), ...a.context });
    }
    if (byAddr >= this.#policy.addressMaxFailures) {
      await this.#store.setNumber(`lock:addr:${a.source}`, now + lockMs, lockMs * 2);
      await this.#clearFailures('addr', a.source, now);
      this.#audit.alert('lockout.address', { source: a.source, failures: byAddr, lockedUntil: new Date(now + lockMs).toISOString(), ...a.context });
    }
  }

  #record(a: LoginAttempt, username: string, decision: 'allow' | 'deny', reason: string): void {
    const c = a.context;
    this.#audit.record({
      event: 'auth.login', decision, reason, principal: username, method: 'password+totp', source: a.source, channel: a.channel,
      requestId: c?.requestId, associationId: c?.associationId, callingAe: c?.callingAe,
    });
  }
}
