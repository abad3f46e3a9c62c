// User directory in one Redis hash, cached in memory and kept in step across replicas by change notices.

import { pino, type Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { RedisStore } from '../state/redis-store.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { UserDirectory } from './user-directory.js';
import { checkUsername, parseUserRecord, type UserRecord } from './user-record.js';

/** Optional fields of a user record that an update given them as undefined removes. */
const CLEARABLE_FIELDS = ['aeTitles'] as const;

/** The hash (`{keyPrefix}users`, field = username, value = JSON record) and the channel its change notices use. */
export const USERS_KEY = 'users';
export const USERS_CHANNEL = 'users';

const MAX_UPDATE_ATTEMPTS = 16;

export interface RedisUserDirectoryOptions {
  /**
   * true (default, the gateway): keep an in-memory copy, updated by change notices from every
   * replica. false (the CLI): no copy, no subscription; every call reads Redis.
   */
  readonly watch?: boolean;
  /** Full re-read period while watching, a safety net should a notice be lost (ms); default 60 000, 0 = off. */
  readonly refreshMs?: number;
  /** Stamps `updatedAt`. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Called when reload() cannot read Redis (it never rejects, like the file directory). */
  readonly onReloadError?: (err: GatewayError) => void;
}

type Patch = Partial<Omit<UserRecord, 'username' | 'createdAt'>>;

/**
 * UserDirectory on Redis. Writes are atomic (HSETNX to add; compare-and-set to update) and
 * every write publishes the changed usernames, so each replica refreshes those entries at once.
 *
 * Fail-closed choice: the cache answers only while it is known to be in step with Redis, that
 * is, after a full read made while the change-notice subscription was live, with no outage
 * since. When the store goes down or the subscription drops, a disable or role change made
 * meanwhile (by the CLI, or another replica that still reaches Redis) would never reach this
 * cache, so `get()` stops trusting it and reads Redis itself: while Redis is unreachable that
 * rejects with ERR_STORE_UNAVAILABLE. Serving the stale copy would buy nothing — logins,
 * sessions, TOTP replay and DIMSE tokens need the store and fail closed anyway — and it would
 * leave one path (anything that trusts the directory alone) that could let a disabled user in.
 * After recovery the copy is re-read and used again.
 */
export class RedisUserDirectory implements UserDirectory {
  readonly kind = 'redis' as const;
  readonly #store: RedisStore;
  readonly #watch: boolean;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onReloadError: (err: GatewayError) => void;
  readonly #listeners: ((names: readonly string[]) => void)[] = [];
  readonly #onNotice = (message: string): void => this.#notice(message);
  #cache = new Map<string, UserRecord>();
  #inSync = false;
  /** Bumped whenever notices may have been missed; a full read started before it does not count. */
  #epoch = 0;
  /** Serialises every read-then-apply on the cache, so an older read never overwrites a newer one. */
  #queue: Promise<void> = Promise.resolve();
  #queuedRefresh: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopEvents: (() => void) | undefined;
  #closed = false;

  private constructor(store: RedisStore, options: RedisUserDirectoryOptions) {
    this.#store = store;
    this.#watch = options.watch ?? true;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'user-directory', backend: 'redis' });
    this.#onReloadError = options.onReloadError ?? ((err) => this.#log.warn({ err }, 'user directory reload failed'));
  }

  /**
   * Opens the directory. While watching, it subscribes to change notices and reads every user;
   * when Redis is down it still opens (and fails closed) and catches up when Redis returns.
   */
  static async open(store: RedisStore, options: RedisUserDirectoryOptions = {}): Promise<RedisUserDirectory> {
    const d = new RedisUserDirectory(store, options);
    if (d.#watch) await d.#start(options.refreshMs ?? 60_000);
    return d;
  }

  async #start(refreshMs: number): Promise<void> {
    this.#stopEvents = this.#store.onConnectionEvent((event) => {
      if (event === 'unavailable' || event === 'subscription-lost') this.#loseSync();
      else void this.#refresh().catch(() => undefined);
    });
    try {
      await this.#store.subscribe(USERS_CHANNEL, this.#onNotice);
    } catch (err) {
      this.#log.warn({ err }, 'change notices not subscribed yet; the directory catches up when Redis returns');
    }
    await this.#refresh().catch(() => undefined);
    if (refreshMs > 0) {
      this.#timer = setInterval(() => void this.#refresh().catch(() => undefined), refreshMs);
      this.#timer.unref();
    }
  }

  #loseSync(): void {
    this.#inSync = false;
    this.#epoch += 1;
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** A full re-read; requests made while one is waiting to start join it. */
  #refresh(): Promise<void> {
    this.#queuedRefresh ??= this.#enqueue(async () => {
      this.#queuedRefresh = undefined;
      if (this.#closed) return;
      const epoch = this.#epoch;
      const subscribed = this.#store.isSubscribed(); // notices sent after this moment reach us
      const raw = await this.#store.hashGetAll(USERS_KEY);
      this.#replace(this.#parseAll(raw));
      if (subscribed && epoch === this.#epoch && this.#store.isSubscribed()) this.#inSync = true;
    });
    return this.#queuedRefresh;
  }

  #parse(username: string, raw: string): UserRecord | string {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return `users.${username}: not JSON`;
    }
    return parseUserRecord(username, value);
  }

  /** An entry that does not validate is no user (fail closed), and is reported without its content. */
  #parseOrSkip(username: string, raw: string): UserRecord | undefined {
    const r = this.#parse(username, raw);
    if (typeof r !== 'string') return r;
    this.#log.warn({ problem: r, key: this.#store.keyPrefix + USERS_KEY }, 'invalid user entry in Redis ignored');
    return undefined;
  }

  #parseAll(raw: Map<string, string>): Map<string, UserRecord> {
    const users = new Map<string, UserRecord>();
    for (const [name, value] of raw) {
      const r = this.#parseOrSkip(name, value);
      if (r !== undefined) users.set(name, r);
    }
    return users;
  }

  #emit(names: readonly string[]): void {
    if (names.length === 0) return;
    for (const l of this.#listeners) {
      try {
        l(names);
      } catch (err) {
        this.#log.error({ err }, 'user directory change listener failed');
      }
    }
  }

  #replace(next: Map<string, UserRecord>): void {
    const old = this.#cache;
    this.#cache = next;
    this.#emit([...new Set([...old.keys(), ...next.keys()])].filter((n) => JSON.stringify(old.get(n)) !== JSON.stringify(next.get(n))));
  }

  /** Sets one cache entry (undefined deletes); true when it changed. */
  #set(username: string, record: UserRecord | undefined): boolean {
    if (JSON.stringify(this.#cache.get(username)) === JSON.stringify(record)) return false;
    if (record === undefined) this.#cache.delete(username);
    else this.#cache.set(username, record);
    return true;
  }

  #notice(message: string): void {
    if (this.#closed) return;
    let names: unknown;
    try {
      names = JSON.parse(message);
    } catch {
      names = undefined;
    }
    if (!Array.isArray(names) || !names.every((n): n is string => typeof n === 'string')) {
      this.#log.warn('malformed user change notice; re-reading every user');
      void this.#refresh().catch(() => undefined);
      return;
    }
    void this.#enqueue(async () => {
      const changed: string[] = [];
      for (const name of names) {
        const raw = await this.#store.hashGet(USERS_KEY, name);
        if (this.#set(name, raw === null ? undefined : this.#parseOrSkip(name, raw))) changed.push(name);
      }
      this.#emit(changed);
    }).catch((err: unknown) => {
      this.#loseSync(); // the notice is lost: stop trusting the copy until a full re-read
      this.#log.warn({ err }, 'could not apply a user change notice');
    });
  }

  /** Applies our own write to the copy at once, tells every replica, and tells local listeners. */
  async #written(record: UserRecord): Promise<void> {
    if (this.#watch && this.#set(record.username, record)) this.#emit([record.username]);
    try {
      await this.#store.publish(USERS_CHANNEL, JSON.stringify([record.username]));
    } catch (err) {
      // The write is stored. A replica that missed the notice lost its subscription to the same
      // outage, so it re-reads everything when Redis returns.
      this.#log.warn({ err, username: record.username }, 'user change stored, but the change notice could not be sent');
    }
  }

  async get(username: string): Promise<UserRecord | undefined> {
    if (this.#watch && this.#inSync) return this.#cache.get(username);
    // Not in step (see the class comment): read Redis, fail closed if it cannot be read.
    if (this.#watch && this.#store.isAvailable() && this.#store.isSubscribed()) void this.#refresh().catch(() => undefined);
    const raw = await this.#store.hashGet(USERS_KEY, username);
    return raw === null ? undefined : this.#parseOrSkip(username, raw);
  }

  async list(): Promise<UserRecord[]> {
    const users = this.#watch && this.#inSync ? this.#cache : this.#parseAll(await this.#store.hashGetAll(USERS_KEY));
    return [...users.values()].sort((a, b) => a.username.localeCompare(b.username));
  }

  async add(record: UserRecord): Promise<void> {
    checkUsername(record.username);
    if (!(await this.#store.hashSetIfAbsent(USERS_KEY, record.username, JSON.stringify(record)))) {
      throw new GatewayError('ERR_USER_EXISTS', `user "${record.username}" already exists`);
    }
    await this.#written(record);
  }

  async update(username: string, patch: Patch): Promise<UserRecord> {
    const changes = Object.fromEntries(
      Object.entries(patch).filter(([k, v]) => v !== undefined && k !== 'username' && k !== 'createdAt'),
    ) as Patch;
    // A field that may be absent is removed by an explicit undefined (`users set-ae USER` without --ae:
    // any AE title again), as the users file does; a required field given as undefined stays as it was.
    const cleared = CLEARABLE_FIELDS.filter((k) => Object.hasOwn(patch, k) && patch[k] === undefined);
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const raw = await this.#store.hashGet(USERS_KEY, username);
      if (raw === null) throw new GatewayError('ERR_USER_UNKNOWN', `no user "${username}"`);
      const old = this.#parse(username, raw);
      if (typeof old === 'string') throw new GatewayError('ERR_USERS_FILE', `Redis ${this.#store.keyPrefix}${USERS_KEY}: ${old}`);
      const next: UserRecord = { ...old, ...changes, username, createdAt: old.createdAt, updatedAt: new Date(this.#clock()).toISOString() };
      for (const k of cleared) delete (next as { -readonly [K in keyof UserRecord]?: UserRecord[K] })[k];
      // Compare-and-set: if another writer changed the entry since we read it, read again.
      if (await this.#store.hashCompareAndSet(USERS_KEY, username, raw, JSON.stringify(next))) {
        await this.#written(next);
        return next;
      }
    }
    throw new GatewayError('ERR_STORE_UNAVAILABLE', `user "${username}" kept changing while being updated; try again`);
  }

  /** Re-reads every user now. Never rejects: a failure goes to `onReloadError` and the directory stays fail-closed. */
  async reload(): Promise<void> {
    if (!this.#watch) return; // nothing cached: every call reads Redis
    try {
      await this.#refresh();
    } catch (err) {
      this.#onReloadError(err instanceof GatewayError ? err : new GatewayError('ERR_STORE_UNAVAILABLE', undefined, { cause: err }));
    }
  }

  onChange(listener: (usernames: readonly string[]) => void): void {
    this.#listeners.push(listener);
  }

  /** Stops listening; the store stays open (it belongs to the caller). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#inSync = false;
    clearInterval(this.#timer);
    this.#stopEvents?.();
    if (this.#watch) await this.#store.unsubscribe(USERS_CHANNEL, this.#onNotice);
  }
}
