// Password + TOTP login: constant answers, replay refusal, and lockouts that count each attempt
// before its password is checked, so concurrent attempts cannot outrun them.

import { AlertThrottle } from '../audit/alert-throttle.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Audit, AuditContext } from '../audit/audit.js';
import type { AttemptReservation, StateStore } from '../state/store.js';
import { addressKey } from '../util/address-key.js';
import type { Clock } from '../util/clock.js';
import type { DirectoryRefusal, PasswordDirectory } from './ldap/ldap-directory.js';
import type { PasswordChecker } from './password.js';
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
type FailureReason = 'unknown-user' | 'user-disabled' | 'user-pending' | 'wrong-password' | 'wrong-totp' | 'totp-replayed' | DirectoryRefusal;

/** Where the passwords of directory users are checked (users.ldap), and whether every user is one (users.backend: ldap). */
export interface DirectoryLogin {
  readonly directory: PasswordDirectory;
  readonly allUsers: boolean;
}

const MIN = 60_000;
const REPLAY_TTL_MS = 4 * TOTP_PERIOD_SECONDS * 1000; // longer than the ±1 step acceptance window

export class LoginService {
  readonly #users: UserDirectory;
  readonly #store: StateStore;
  readonly #audit: Audit;
  readonly #clock: Clock;
  readonly #policy: LockoutPolicy;
  readonly #passwords: PasswordChecker;
  readonly #busyAlerts: AlertThrottle;
  readonly #directory: DirectoryLogin | undefined;
  readonly #local: boolean;

  /** `local`: auth.local; false refuses every password sign-in (HTTP, DICOM type 2, /account) before anything is counted or checked. */
  constructor(deps: { users: UserDirectory; store: StateStore; audit: Audit; clock: Clock; policy: LockoutPolicy; passwords: PasswordChecker; directory?: DirectoryLogin; local?: boolean }) {
    this.#directory = deps.directory;
    this.#local = deps.local !== false;
    this.#users = deps.users;
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#policy = deps.policy;
    this.#passwords = deps.passwords;
    this.#busyAlerts = new AlertThrottle(deps.audit, { clock: deps.clock });
  }

  /**
   * Checks password and TOTP code. Resolves the user on success; otherwise throws
   * ERR_LOGIN_FAILED (same answer whatever went wrong), ERR_LOCKED_OUT, ERR_BUSY (too many
   * password checks running and waiting), ERR_STORE_UNAVAILABLE, or ERR_LOCAL_LOGIN_DISABLED
   * (auth.local: false; nothing counted, no password checked).
   *
   * The attempt is counted (reserved) for the account and for the source address before the
   * password is checked, atomically in the state store: of any number of concurrent attempts at
   * most `userMaxFailures` per account (and `addressMaxFailures` per address) get checked. A
   * success clears the account's count and gives back its place in the address's; an attempt
   * refused before its check (locked out, busy) gives back what it reserved.
   */
  async login(a: LoginAttempt): Promise<UserRecord> {
    const now = this.#clock();
    const username = a.username.trim().toLowerCase().slice(0, 128);
    if (!this.#local) {
      this.#record(a, username, 'deny', 'local-login-disabled');
      throw new GatewayError('ERR_LOCAL_LOGIN_DISABLED', undefined, { cause: { loginFailure: 'local-login-disabled' } });
    }
    const source = addressKey(a.source);
    const userKey = `attempts:user:${username}`;
    const addrKey = `attempts:addr:${source}`;
    const [byUser, byAddr] = await Promise.all([
      this.#store.reserveAttempt(userKey, this.#window(now, this.#policy.userMaxFailures)),
      this.#store.reserveAttempt(addrKey, this.#window(now, this.#policy.addressMaxFailures)),
    ]);
    if (!byUser.granted || !byAddr.granted) {
      await this.#release(byUser.granted ? userKey : undefined, byAddr.granted ? addrKey : undefined, now);
      throw this.#lockedOut(a, username, source, byUser, byAddr, now);
    }
    let reason: FailureReason | undefined;
    let user: UserRecord | undefined;
    try {
      ({ reason, user } = await this.#check(a, username, source, now));
    } catch (err) {
      if (isGatewayError(err, 'ERR_DIRECTORY_UNAVAILABLE')) {
        // The directory could not say: the password was never checked, so its places go back (nothing is let in).
        await this.#release(userKey, addrKey, now);
        this.#record(a, username, 'deny', 'directory-unavailable');
      }
      if (isGatewayError(err, 'ERR_BUSY')) {
        // Never checked: its places go back. (Any other error leaves them counted: fail closed.)
        await this.#release(userKey, addrKey, now);
        this.#record(a, username, 'deny', 'busy');
        this.#busyAlerts.alert('login.busy', 'password-checks', { source: a.source, addressKey: source, reason: err.detail?.['reason'], ...this.#passwords.load });
      }
      throw err;
    }
    if (reason !== undefined || user === undefined) {
      this.#record(a, username, 'deny', reason ?? 'unknown-user');
      await this.#lockIfReached(a, username, source, byUser.count, byAddr.count);
      // The cause is for the caller's audit event (a DICOM association's refusal); the answer stays the same whatever went wrong.
      throw new GatewayError('ERR_LOGIN_FAILED', undefined, { cause: { loginFailure: reason ?? 'unknown-user' } });
    }
    await Promise.all([this.#store.deleteRecord(userKey), this.#store.releaseAttempt(addrKey, now, this.#windowMs())]);
    this.#record(a, username, 'allow', 'password-and-totp-valid');
    return user;
  }

  /** auth.local: whether any password sign-in is accepted at all. */
  get localEnabled(): boolean {
    return this.#local;
  }

  /** Whether the user's password is the directory's (source ldap, or users.backend: ldap): the gateway neither keeps nor changes it. */
  passwordInDirectory(user: UserRecord): boolean {
    return user.source === 'ldap' || this.#directory?.allUsers === true;
  }

  /** The password (scrypt, within the PasswordChecker's limits), then the account state, then the TOTP code and its replay mark. */
  async #check(a: LoginAttempt, username: string, source: string, now: number): Promise<{ reason: FailureReason | undefined; user: UserRecord | undefined }> {
    const user = username.length <= 64 ? await this.#users.get(username) : undefined;
    // A pending user (invited, not enrolled) is refused by every backend, after the dummy hash: the same cost, never a match.
    const pending = user?.pending === true;
    if (user !== undefined && !pending && this.passwordInDirectory(user)) return this.#checkDirectory(a, user, username, source, now);
    const passwordOk = await this.#passwords.verify(a.password, pending ? undefined : user?.passwordHash, source);
    if (user === undefined) return { reason: 'unknown-user', user };
    if (pending) return { reason: 'user-pending', user };
    if (!passwordOk) return { reason: 'wrong-password', user };
    if (user.disabled) return { reason: 'user-disabled', user };
    const step = await matchTotp(user.totpSecret, a.totp, now);
    if (step === null) return { reason: 'wrong-totp', user };
    if (!(await this.#store.setIfGreater(`totp-used:${username}`, step, REPLAY_TTL_MS))) return { reason: 'totp-replayed', user };
    return { reason: undefined, user };
  }

  /**
   * A directory user: the password by a bind to the directory (within the PasswordChecker's limits),
   * its account state and groups → role, then the gateway's own disabled flag and TOTP code. The role
   * the groups map to is written to the record when it changed, so sessions and associations see it.
   */
  async #checkDirectory(a: LoginAttempt, user: UserRecord, username: string, source: string, now: number): Promise<{ reason: FailureReason | undefined; user: UserRecord | undefined }> {
    const d = this.#directory;
    if (d === undefined) throw new GatewayError('ERR_DIRECTORY_UNAVAILABLE', `user ${username} has source ldap, but users.ldap is not configured`);
    const answer = await this.#passwords.run(source, () => d.directory.authenticate(username, a.password));
    if (!answer.ok) return { reason: answer.reason, user };
    if (user.disabled) return { reason: 'user-disabled', user };
    const step = await matchTotp(user.totpSecret, a.totp, now);
    if (step === null) return { reason: 'wrong-totp', user };
    if (!(await this.#store.setIfGreater(`totp-used:${username}`, step, REPLAY_TTL_MS))) return { reason: 'totp-replayed', user };
    const current = user.role === answer.role ? user : await this.#users.update(username, { role: answer.role });
    return { reason: undefined, user: current };
  }

  #windowMs(): number {
    return this.#policy.windowMinutes * MIN;
  }

  /** Failures are counted in fixed buckets of windowMinutes; a count spans this bucket and the one before, so a boundary does not reset it. */
  #window(now: number, limit: number): { now: number; windowMs: number; limit: number; lockMs: number } {
    return { now, windowMs: this.#windowMs(), limit, lockMs: this.#policy.lockMinutes * MIN };
  }

  async #release(userKey: string | undefined, addrKey: string | undefined, now: number): Promise<void> {
    await Promise.all([userKey, addrKey].map((k) => (k === undefined ? undefined : this.#store.releaseAttempt(k, now, this.#windowMs()))));
  }

  /** The refusal of an attempt that found its account or address locked (or its count reached, which locks it now). */
  #lockedOut(a: LoginAttempt, username: string, source: string, byUser: AttemptReservation, byAddr: AttemptReservation, now: number): GatewayError {
    if (!byUser.granted && byUser.newlyLocked) this.#lockAlert('user', a, username, source, this.#policy.userMaxFailures, byUser.lockedUntil);
    if (!byAddr.granted && byAddr.newlyLocked) this.#lockAlert('address', a, username, source, this.#policy.addressMaxFailures, byAddr.lockedUntil);
    let scope: 'user' | 'address';
    let until: number;
    if (!byUser.granted) [scope, until] = ['user', byUser.lockedUntil];
    else if (!byAddr.granted) [scope, until] = ['address', byAddr.lockedUntil];
    else throw new TypeError('#lockedOut called for an attempt that was counted');
    this.#record(a, username, 'deny', `locked-out:${scope}`);
    return new GatewayError('ERR_LOCKED_OUT', `Too many failed attempts; try again after ${new Date(until).toISOString()}`, {
      detail: { retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)) }, cause: { loginFailure: `locked-out:${scope}` },
    });
  }

  /** After a failure: the attempt that reached a limit locks the account or address for lockMinutes from now. */
  async #lockIfReached(a: LoginAttempt, username: string, source: string, byUser: number, byAddr: number): Promise<void> {
    const now = this.#clock();
    const until = now + this.#policy.lockMinutes * MIN;
    const [user, addr] = await Promise.all([
      byUser >= this.#policy.userMaxFailures && this.#store.lockAttempts(`attempts:user:${username}`, now, until),
      byAddr >= this.#policy.addressMaxFailures && this.#store.lockAttempts(`attempts:addr:${source}`, now, until),
    ]);
    if (user) this.#lockAlert('user', a, username, source, byUser, until);
    if (addr) this.#lockAlert('address', a, username, source, byAddr, until);
  }

  #lockAlert(scope: 'user' | 'address', a: LoginAttempt, username: string, source: string, failures: number, until: number): void {
    const lockedUntil = new Date(until).toISOString();
    if (scope === 'user') this.#audit.alert('lockout.user', { username, source: a.source, failures, lockedUntil, ...a.context });
    else this.#audit.alert('lockout.address', { source: a.source, addressKey: source, failures, lockedUntil, ...a.context });
  }

  #record(a: LoginAttempt, username: string, decision: 'allow' | 'deny', reason: string): void {
    const c = a.context;
    this.#audit.record({
      event: 'auth.login', decision, reason, principal: username, method: 'password+totp', source: a.source, channel: a.channel,
      requestId: c?.requestId, associationId: c?.associationId, callingAe: c?.callingAe,
    });
  }
}
