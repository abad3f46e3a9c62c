// The one interface every piece of volatile security state goes through (memory or Redis).

/**
 * How attempts are counted under one key (an account or a source address): in fixed buckets of
 * `windowMs`, a count spanning the bucket of `now` and the one before it, refused from `limit` on.
 */
export interface AttemptWindow {
  readonly now: number;
  readonly windowMs: number;
  readonly limit: number;
  /** How long a key stays locked once its count reached the limit. */
  readonly lockMs: number;
}

export type AttemptReservation =
  /** Counted: `count` attempts (this one included) in the two buckets. */
  | { readonly granted: true; readonly count: number }
  /** Refused: the key is locked until `lockedUntil`; `newlyLocked` when this call locked it. */
  | { readonly granted: false; readonly lockedUntil: number; readonly newlyLocked: boolean };

/**
 * Volatile security state: sessions, failure counters, lockouts, TOTP replay marks,
 * revocations and rate limits. Every key is namespaced by the caller and has a TTL,
 * so nothing grows without bound. Time decisions are made by the caller's clock; the
 * TTLs here only collect garbage.
 *
 * Every method rejects with ERR_STORE_UNAVAILABLE when the store cannot be reached,
 * so callers fail closed.
 */
export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /** Resolves when the store answers; rejects with ERR_STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /** Whether the store is currently believed reachable (no I/O). */
  isAvailable(): boolean;
  /** Stores a JSON record under `key` for `ttlMs`. */
  putRecord(key: string, value: unknown, ttlMs: number): Promise<void>;
  getRecord<T>(key: string): Promise<T | null>;
  /** Deletes a record; resolves true when one existed. */
  deleteRecord(key: string): Promise<boolean>;
  /**
   * Atomically reads a record and, when present, sets its `lastSeen` field to `now` and its
   * TTL to `ttlMs`. Returns the record as it was before the update, or null.
   */
  touchRecord<T extends { lastSeen: number }>(key: string, now: number, ttlMs: number): Promise<T | null>;
  /** Atomically increments a counter, setting its TTL when it is created. Returns the new count. */
  increment(key: string, ttlMs: number): Promise<number>;
  /** Atomically sets `key` to `value` if absent or smaller. True when the value was stored. */
  setIfGreater(key: string, value: number, ttlMs: number): Promise<boolean>;
  /** Reads a numeric value (counter or mark), 0 when absent. */
  getNumber(key: string): Promise<number>;
  /** Stores a numeric value for `ttlMs`. */
  setNumber(key: string, value: number, ttlMs: number): Promise<void>;
  /**
   * Atomically counts an attempt before it is evaluated (login lockouts): refuses while `key` is
   * locked; when the count already reached `w.limit` (attempts still being evaluated, or failures
   * whose lock was never written) locks it until `now + lockMs`, forgets its counts and refuses;
   * otherwise counts one in the bucket of `now`. Concurrent callers can never be granted more
   * than `limit` attempts per two buckets. Delete the key (deleteRecord) to clear it.
   */
  reserveAttempt(key: string, w: AttemptWindow): Promise<AttemptReservation>;
  /** Gives back one attempt reserved at time `at` (it succeeded, or was never evaluated); never below zero. */
  releaseAttempt(key: string, at: number, windowMs: number): Promise<void>;
  /**
   * Locks `key` until `until` and forgets its counts, unless it is locked already (at `now`).
   * True when this call locked it. The lock is kept for `until - now`.
   */
  lockAttempts(key: string, now: number, until: number): Promise<boolean>;
  /** Atomically replaces the string at `key`, returning the previous value. */
  swap(key: string, value: string, ttlMs: number): Promise<string | null>;
  /**
   * Sliding-window sum (alert rules): adds `amount` at time `at` to the window kept at `key`
   * (WINDOW_BUCKETS buckets of windowMs / WINDOW_BUCKETS; buckets older than the window are
   * dropped) and returns the window's total and its first and last event times. Atomic.
   */
  windowAdd(key: string, at: number, amount: number, windowMs: number): Promise<WindowTotal>;
  /**
   * Sliding-window distinct count: records `members` as seen at `at` and returns how many distinct
   * members were seen within the last windowMs (at most `cap`: the oldest are forgotten first).
   * Atomic.
   */
  windowAddDistinct(key: string, at: number, members: readonly string[], windowMs: number, cap: number): Promise<WindowTotal>;
  /**
   * Last-seen marks: records `member` as seen at `at` and returns when it was last seen within
   * horizonMs before (null: not seen) and how many other members were seen within it. At most
   * `cap` members are kept (the least recently seen are forgotten). Atomic.
   */
  markSeen(key: string, member: string, at: number, horizonMs: number, cap: number): Promise<SeenMark>;
  /** Subscribes to change notices published by any replica (users and devices reload). */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  publish(channel: string, message: string): Promise<void>;
  close(): Promise<void>;
}

/** Buckets a sliding window is kept in: it slides in steps of a tenth of its length. */
export const WINDOW_BUCKETS = 10;

/** A sliding window's state after an addition. */
export interface WindowTotal {
  /** Sum of amounts (windowAdd) or distinct members (windowAddDistinct) within the window. */
  readonly total: number;
  /** Time of the first and last event the window still holds. */
  readonly first: number;
  readonly last: number;
}

export interface SeenMark {
  /** When the member was last seen within the horizon, or null. */
  readonly previous: number | null;
  /** Other members seen within the horizon. */
  readonly others: number;
}
