// The shared state store on Redis (ioredis): atomic Lua updates, prefixed keys, fail closed, self-healing.

import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import type { Audit } from '../audit/audit.js';
import type { RedisOptions } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { connectRedis, describeTarget, firstOutcome, quitClient, redactError, secretsOf, type RedisClient } from './redis-connection.js';
import { RECORD_JSON_FIELD, RECORD_SEEN_FIELD, SCRIPTS, type ScriptCommands } from './redis-scripts.js';
import { RedisSubscriber } from './redis-subscriber.js';
import { WINDOW_BUCKETS, type AttemptReservation, type AttemptWindow, type SeenMark, type StateStore, type WindowTotal } from './store.js';

export interface RedisStoreOptions {
  readonly redis: RedisOptions;
  /** Prepended to every key and channel (`state.keyPrefix`). */
  readonly keyPrefix: string;
  /** Directory relative TLS paths are resolved against; default the working directory. */
  readonly baseDir?: string;
  /** Where `store.unavailable` / `store.recovered` alerts go; without it they are logged as warnings. */
  readonly audit?: Audit;
  readonly logger?: Logger;
  /** Cap of the reconnect back-off; default 1000 ms. */
  readonly maxRetryDelayMs?: number;
}

/**
 * Transitions a cache on top of the store must react to (see RedisUserDirectory): `recovered`
 * when the store becomes reachable (the first time too), `unavailable` when it stops being so,
 * and the same pair for the change-notice subscription.
 */
export type ConnectionEvent = 'unavailable' | 'recovered' | 'subscription-lost' | 'subscription-restored';

// Redis and Cluster share the command API; the Redis type stands for both where commands are sent.
type Commands = Redis & ScriptCommands;

const REPLY_ERROR_LOG_INTERVAL_MS = 60_000;

function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs)) throw new TypeError(`ttlMs must be a finite number of milliseconds, got ${ttlMs}`);
  return Math.max(1, Math.ceil(ttlMs)); // memory semantics: a TTL ≤ 0 expires at once; PEXPIRE needs ≥ 1
}

function checkWindow(at: number, windowMs: number): void {
  if (!Number.isFinite(at)) throw new TypeError(`at must be a finite time in milliseconds, got ${at}`);
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new TypeError(`the window must be a positive number of milliseconds, got ${windowMs}`);
}

/**
 * StateStore on Redis. Every key and channel is prefixed with `keyPrefix`; every multi-step
 * update is one single-key Lua script (Cluster-safe). Commands fail fast with
 * ERR_STORE_UNAVAILABLE while Redis is unreachable, one `store.unavailable` alert is raised per
 * outage and one `store.recovered` when it ends; the client reconnects by itself.
 */
export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly keyPrefix: string;
  /** Where the store connects (no credentials), for logs and health output. */
  readonly target: string;
  readonly #options: RedisOptions;
  readonly #client: RedisClient;
  readonly #secrets: readonly string[];
  readonly #log: Logger;
  readonly #audit: Audit | undefined;
  readonly #connectionListeners = new Set<(event: ConnectionEvent) => void>();
  readonly #subscriber: RedisSubscriber;
  #starting: Promise<void> | undefined;
  #available = false;
  #outage = false;
  #closed = false;
  #lastError = 'not connected yet';
  /** Why the last connection attempt failed (ECONNREFUSED, WRONGPASS…), redacted; cleared when connected. */
  #connectionError: string | undefined;
  #lastReplyError: { message: string; at: number } | undefined;

  constructor(options: RedisStoreOptions) {
    this.keyPrefix = options.keyPrefix;
    this.#options = options.redis;
    this.#secrets = secretsOf(options.redis);
    this.target = describeTarget(options.redis);
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'state-store', store: 'redis' });
    this.#audit = options.audit;
    this.#client = connectRedis(options.redis, {
      baseDir: options.baseDir ?? process.cwd(),
      maxRetryDelayMs: options.maxRetryDelayMs ?? 1000,
    });
    for (const [name, script] of Object.entries(SCRIPTS)) this.#client.defineCommand(name, script);
    this.#client.on('ready', () => {
      this.#connectionError = undefined;
      this.#up();
    });
    this.#client.on('error', (err: unknown) => {
      this.#connectionError = redactError(err, this.#secrets).message;
      this.#down(this.#connectionError);
    });
    const lost = (): void => {
      this.#connectionError ??= 'the connection to Redis closed';
      this.#down(this.#connectionError);
    };
    this.#client.on('close', lost);
    this.#client.on('end', lost);
    const startTimeoutMs = options.redis.connectTimeoutMs + options.redis.commandTimeoutMs;
    this.#starting = firstOutcome(this.#client, startTimeoutMs).then(() => { this.#starting = undefined; });
    this.#subscriber = new RedisSubscriber({
      main: this.#client, keyPrefix: this.keyPrefix, secrets: this.#secrets, log: this.#log,
      startTimeoutMs, quitTimeoutMs: options.redis.commandTimeoutMs,
      onEvent: (event) => { if (!this.#closed) this.#notify(event); },
    });
  }

  #key(key: string): string {
    return this.keyPrefix + key;
  }

  #notify(event: ConnectionEvent): void {
    for (const l of this.#connectionListeners) {
      try {
        l(event);
      } catch (err) {
        this.#log.error({ err: redactError(err, this.#secrets) }, 'connection listener failed');
      }
    }
  }

  #alert(name: 'store.unavailable' | 'store.recovered', detail: Record<string, unknown>): void {
    if (this.#audit !== undefined) this.#audit.alert(name, detail);
    else this.#log.warn({ alert: { name, ...detail } }, `ALERT ${name}`);
  }

  #up(): void {
    if (this.#closed) return;
    const was = this.#available;
    this.#available = true;
    if (this.#outage) {
      this.#outage = false;
      this.#alert('store.recovered', { store: 'redis', target: this.target });
    } else if (!was) {
      this.#log.info({ target: this.target }, 'state store connected');
    }
    if (!was) this.#notify('recovered');
  }

  #down(reason: string): void {
    this.#lastError = reason;
    if (this.#closed) return;
    const was = this.#available;
    this.#available = false;
    if (!this.#outage) {
      this.#outage = true;
      this.#alert('store.unavailable', { store: 'redis', target: this.target, reason });
    } else {
      this.#log.debug({ reason }, 'state store still unavailable');
    }
    if (was) this.#notify('unavailable');
  }

  /** Maps any command failure to ERR_STORE_UNAVAILABLE (the caller fails closed), with a redacted cause. */
  #fail(op: string, err: unknown): GatewayError {
    const safe = redactError(err, this.#secrets);
    if (this.#closed) return new GatewayError('ERR_STORE_UNAVAILABLE', 'The state store is closed', { cause: safe });
    if (safe.name === 'ReplyError') {
      // Redis answered: reachable, but refused (ACL, OOM, READONLY, WRONGTYPE…). Log, rate-limited per message.
      const now = Date.now();
      const last = this.#lastReplyError;
      if (last === undefined || last.message !== safe.message || now - last.at > REPLY_ERROR_LOG_INTERVAL_MS) {
        this.#lastReplyError = { message: safe.message, at: now };
        this.#log.error({ op, err: safe }, 'state store refused a command');
      }
    } else {
      this.#down(safe.message);
      // A hung connection (timeouts while "ready") is replaced, so a later `ready` ends the outage.
      if (this.#client.status === 'ready') this.#client.disconnect(true);
    }
    return new GatewayError('ERR_STORE_UNAVAILABLE', undefined, { cause: safe, detail: { store: 'redis' } });
  }

  async #run<T>(op: string, fn: (c: Commands) => Promise<T>): Promise<T> {
    if (this.#closed) throw new GatewayError('ERR_STORE_UNAVAILABLE', 'The state store is closed');
    if (this.#starting !== undefined) await this.#starting;
    let result: T;
    try {
      result = await fn(this.#client as unknown as Commands);
    } catch (err) {
      throw this.#fail(op, err);
    }
    // An answer proves Redis reachable, even if a stray 'error' event (e.g. a Cluster slot refresh) said otherwise.
    if (!this.#available && this.#client.status === 'ready') this.#up();
    return result;
  }

  #parse<T>(json: string, seen: string | null | undefined): T {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new GatewayError('ERR_STORE_UNAVAILABLE', 'The state store holds a record that is not JSON', { cause: redactError(err, this.#secrets) });
    }
    if (seen !== null && seen !== undefined && typeof value === 'object' && value !== null) {
      return { ...(value as object), lastSeen: Number(seen) } as T;
    }
    return value as T;
  }

  /** Rejects with a message that says why (for /readyz): the target and the connection error or Redis's refusal. */
  async ping(): Promise<void> {
    try {
      await this.#run('ping', (c) => c.ping());
    } catch (err) {
      if (this.#closed || !(err instanceof GatewayError)) throw err;
      const cause = err.cause instanceof Error ? err.cause : undefined;
      const why = cause?.name === 'ReplyError'
        ? `refused PING: ${cause.message}`
        : `is unreachable: ${this.#connectionError ?? cause?.message ?? this.#lastError}`;
      throw new GatewayError('ERR_STORE_UNAVAILABLE', `Redis ${this.target} ${why}`, { cause, detail: { store: 'redis' } });
    }
  }

  isAvailable(): boolean {
    return this.#available && !this.#closed;
  }

  async putRecord(key: string, value: unknown, ttlMs: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError('putRecord: value is not JSON-serialisable');
    await this.#run('putRecord', (c) => c.pgwPutRecord(this.#key(key), json, ttl));
  }

  async getRecord<T>(key: string): Promise<T | null> {
    const [json, seen] = await this.#run('getRecord', (c) => c.hmget(this.#key(key), RECORD_JSON_FIELD, RECORD_SEEN_FIELD));
    return json === null || json === undefined ? null : this.#parse<T>(json, seen);
  }

  async deleteRecord(key: string): Promise<boolean> {
    return (await this.#run('deleteRecord', (c) => c.del(this.#key(key)))) > 0;
  }

  async touchRecord<T extends { lastSeen: number }>(key: string, now: number, ttlMs: number): Promise<T | null> {
    const ttl = checkTtl(ttlMs);
    if (!Number.isFinite(now)) throw new TypeError(`touchRecord: now must be a finite number, got ${now}`);
    const r = await this.#run('touchRecord', (c) => c.pgwTouchRecord(this.#key(key), now, ttl));
    return r === null ? null : this.#parse<T>(r[0], r[1]);
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const ttl = checkTtl(ttlMs);
    return Number(await this.#run('increment', (c) => c.pgwIncrement(this.#key(key), ttl)));
  }

  async setIfGreater(key: string, value: number, ttlMs: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    if (!Number.isFinite(value)) throw new TypeError(`setIfGreater: value must be a finite number, got ${value}`);
    return Number(await this.#run('setIfGreater', (c) => c.pgwSetIfGreater(this.#key(key), String(value), ttl))) === 1;
  }

  async getNumber(key: string): Promise<number> {
    const v = await this.#run('getNumber', (c) => c.get(this.#key(key)));
    return v === null ? 0 : Number(v);
  }

  async setNumber(key: string, value: number, ttlMs: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    if (!Number.isFinite(value)) throw new TypeError(`setNumber: value must be a finite number, got ${value}`);
    await this.#run('setNumber', (c) => c.set(this.#key(key), String(value), 'PX', ttl));
  }

  async reserveAttempt(key: string, w: AttemptWindow): Promise<AttemptReservation> {
    for (const [name, v] of Object.entries(w)) if (!Number.isFinite(v)) throw new TypeError(`reserveAttempt: ${name} must be a finite number, got ${String(v)}`);
    const bucket = Math.floor(w.now / w.windowMs);
    const [granted, value, locked] = await this.#run('reserveAttempt', (c) => c.pgwReserveAttempt(
      this.#key(key), String(w.now), `b${bucket}`, `b${bucket - 1}`, w.limit, String(w.now + w.lockMs), checkTtl(2 * w.windowMs + w.lockMs), checkTtl(w.lockMs),
    ));
    return granted === 1 ? { granted: true, count: Number(value) } : { granted: false, lockedUntil: Number(value), newlyLocked: locked === 1 };
  }

  async releaseAttempt(key: string, at: number, windowMs: number): Promise<void> {
    await this.#run('releaseAttempt', (c) => c.pgwReleaseAttempt(this.#key(key), `b${Math.floor(at / windowMs)}`));
  }

  async lockAttempts(key: string, now: number, until: number): Promise<boolean> {
    if (!Number.isFinite(now) || !Number.isFinite(until)) throw new TypeError('lockAttempts: now and until must be finite numbers');
    return Number(await this.#run('lockAttempts', (c) => c.pgwLockAttempts(this.#key(key), String(now), String(until), checkTtl(until - now)))) === 1;
  }

  async swap(key: string, value: string, ttlMs: number): Promise<string | null> {
    const ttl = checkTtl(ttlMs);
    // SET … GET (Redis ≥ 6.2) replaces and returns the old value in one command.
    return this.#run('swap', (c) => c.set(this.#key(key), value, 'PX', ttl, 'GET'));
  }

  async windowAdd(key: string, at: number, amount: number, windowMs: number): Promise<WindowTotal> {
    checkWindow(at, windowMs);
    if (!Number.isSafeInteger(amount) || amount < 0) throw new TypeError(`windowAdd: amount must be a non-negative integer, got ${amount}`);
    const ttl = checkTtl(windowMs + windowMs / WINDOW_BUCKETS);
    const r = await this.#run('windowAdd', (c) => c.pgwWindowAdd(this.#key(key), Math.floor(at), amount, windowMs, WINDOW_BUCKETS, ttl));
    return { total: Number(r[0]), first: Number(r[1]), last: Number(r[2]) };
  }

  async windowAddDistinct(key: string, at: number, members: readonly string[], windowMs: number, cap: number): Promise<WindowTotal> {
    checkWindow(at, windowMs);
    const ttl = checkTtl(windowMs);
    const r = await this.#run('windowAddDistinct', (c) => c.pgwWindowDistinct(this.#key(key), Math.floor(at), windowMs, Math.max(1, cap), ttl, ...members));
    return { total: Number(r[0]), first: Number(r[1]), last: Number(r[2]) };
  }

  async markSeen(key: string, member: string, at: number, horizonMs: number, cap: number): Promise<SeenMark> {
    checkWindow(at, horizonMs);
    const r = await this.#run('markSeen', (c) => c.pgwMarkSeen(this.#key(key), member, Math.floor(at), Math.ceil(horizonMs), Math.max(1, cap)));
    return { previous: r[0] === null || (r[0] as unknown) === false ? null : Number(r[0]), others: Number(r[1]) };
  }

  // ---- pub/sub (change notices between replicas) ----

  /**
   * Registers `onMessage` for `channel` (prefixed). The registration stays even when this
   * rejects because Redis is down: the subscription is made whenever the subscriber connection
   * (re)connects, followed by a `subscription-restored` event. Call it once per listener.
   */
  async subscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    if (this.#closed) throw new GatewayError('ERR_STORE_UNAVAILABLE', 'The state store is closed');
    await this.#subscriber.subscribe(channel, onMessage);
  }

  /** Removes a listener added with subscribe(); unsubscribes the channel when it was the last. */
  async unsubscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    await this.#subscriber.unsubscribe(channel, onMessage);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#run('publish', (c) => c.publish(this.#key(channel), message));
  }

  /** Whether the subscriber connection is up and subscribed (change notices are being received). */
  isSubscribed(): boolean {
    return this.#subscriber.isSubscribed() && !this.#closed;
  }

  /** Listens for availability and subscription transitions; returns a function that stops listening. */
  onConnectionEvent(listener: (event: ConnectionEvent) => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  // ---- hash operations for the Redis user directory (persistent: no TTL) ----

  /** HGET of a prefixed hash. */
  async hashGet(key: string, field: string): Promise<string | null> {
    return this.#run('hashGet', (c) => c.hget(this.#key(key), field));
  }

  /** HGETALL of a prefixed hash. */
  async hashGetAll(key: string): Promise<Map<string, string>> {
    const all = await this.#run('hashGetAll', (c) => c.hgetall(this.#key(key)));
    return new Map(Object.entries(all));
  }

  /** HSETNX: true when the field was absent and is now set. */
  async hashSetIfAbsent(key: string, field: string, value: string): Promise<boolean> {
    return (await this.#run('hashSetIfAbsent', (c) => c.hsetnx(this.#key(key), field, value))) === 1;
  }

  /** Atomically replaces a field only if it still holds `expected`; true when replaced. */
  async hashCompareAndSet(key: string, field: string, expected: string, next: string): Promise<boolean> {
    return Number(await this.#run('hashCompareAndSet', (c) => c.pgwHashCompareAndSet(this.#key(key), field, expected, next))) === 1;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#available = false;
    this.#connectionListeners.clear();
    await Promise.all([quitClient(this.#client, this.#options.commandTimeoutMs), this.#subscriber.close()]);
  }
}
