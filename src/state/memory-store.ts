// The embedded state store: one process, a Map with expiry driven by the injected clock.

import { EventEmitter } from 'node:events';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import { WINDOW_BUCKETS, type AttemptReservation, type AttemptWindow, type SeenMark, type StateStore, type WindowTotal } from './store.js';

/** The value under an attempts key (reserveAttempt): a lock time and the counts of recent buckets. */
interface Attempts {
  readonly lock: number;
  readonly buckets: Map<number, number>;
}

interface Entry {
  value: unknown;
  expiresAt: number;
  /** A touched record as an object (its JSON, `value`, is made only when someone reads it). */
  record?: object;
}

interface SlidingSum { readonly buckets: Map<number, { sum: number; first: number }>; last: number }

/** Drops the first-inserted (least recently seen) entries beyond `cap`. */
function dropOldest(m: Map<string, number>, cap: number): void {
  for (const k of m.keys()) {
    if (m.size <= cap) return;
    m.delete(k);
  }
}

/** In-process store. Expired entries are removed on access and by a periodic sweep. */
export class MemoryStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly #map = new Map<string, Entry>();
  readonly #clock: Clock;
  readonly #bus = new EventEmitter();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: { clock?: Clock; sweepMs?: number } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#sweep = setInterval(() => this.#collect(), options.sweepMs ?? 60_000);
    this.#sweep.unref();
  }

  #collect(): void {
    const now = this.#clock();
    for (const [k, e] of this.#map) if (e.expiresAt <= now) this.#map.delete(k);
  }

  #get(key: string): Entry | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.#clock()) {
      this.#map.delete(key);
      return undefined;
    }
    return e;
  }

  #set(key: string, value: unknown, ttlMs: number): void {
    this.#map.set(key, { value, expiresAt: this.#clock() + ttlMs });
  }

  async ping(): Promise<void> {}
  isAvailable(): boolean { return true; }

  async putRecord(key: string, value: unknown, ttlMs: number): Promise<void> {
    this.#set(key, JSON.stringify(value), ttlMs);
  }

  async getRecord<T>(key: string): Promise<T | null> {
    const e = this.#get(key);
    if (e === undefined) return null;
    e.value ??= JSON.stringify(e.record);
    return JSON.parse(e.value as string) as T;
  }

  async deleteRecord(key: string): Promise<boolean> {
    return this.#get(key) !== undefined && this.#map.delete(key);
  }

  async touchRecord<T extends { lastSeen: number }>(key: string, now: number, ttlMs: number): Promise<T | null> {
    const e = this.#get(key);
    if (e === undefined) return null;
    // Records are flat JSON objects (sessions). The object handed back is the one this touch
    // replaces, so no caller ever holds the stored one; no JSON round trip per request.
    const before = (e.record ?? JSON.parse(e.value as string)) as T;
    this.#map.set(key, { value: undefined, expiresAt: this.#clock() + ttlMs, record: { ...before, lastSeen: now } });
    return before;
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const e = this.#get(key);
    if (e === undefined) {
      this.#set(key, 1, ttlMs);
      return 1;
    }
    e.value = (e.value as number) + 1;
    return e.value as number;
  }

  async setIfGreater(key: string, value: number, ttlMs: number): Promise<boolean> {
    const e = this.#get(key);
    if (e !== undefined && (e.value as number) >= value) return false;
    this.#set(key, value, ttlMs);
    return true;
  }

  async getNumber(key: string): Promise<number> {
    const e = this.#get(key);
    return e === undefined ? 0 : Number(e.value);
  }

  async setNumber(key: string, value: number, ttlMs: number): Promise<void> {
    this.#set(key, value, ttlMs);
  }

  #attempts(key: string): Attempts | undefined {
    return this.#get(key)?.value as Attempts | undefined;
  }

  async reserveAttempt(key: string, w: AttemptWindow): Promise<AttemptReservation> {
    const a = this.#attempts(key);
    if (a !== undefined && a.lock > w.now) return { granted: false, lockedUntil: a.lock, newlyLocked: false };
    const bucket = Math.floor(w.now / w.windowMs);
    const current = a?.buckets.get(bucket) ?? 0;
    const previous = a?.buckets.get(bucket - 1) ?? 0;
    if (current + previous >= w.limit) {
      const until = w.now + w.lockMs;
      this.#set(key, { lock: until, buckets: new Map() } satisfies Attempts, w.lockMs);
      return { granted: false, lockedUntil: until, newlyLocked: true };
    }
    // Older buckets are dropped: only this one and the one before count.
    const buckets = new Map([[bucket - 1, previous], [bucket, current + 1]]);
    this.#set(key, { lock: 0, buckets } satisfies Attempts, 2 * w.windowMs + w.lockMs);
    return { granted: true, count: current + previous + 1 };
  }

  async releaseAttempt(key: string, at: number, windowMs: number): Promise<void> {
    const buckets = this.#attempts(key)?.buckets;
    const bucket = Math.floor(at / windowMs);
    const n = buckets?.get(bucket) ?? 0;
    if (n > 0) buckets?.set(bucket, n - 1);
  }

  async lockAttempts(key: string, now: number, until: number): Promise<boolean> {
    const a = this.#attempts(key);
    if (a !== undefined && a.lock > now) return false;
    this.#set(key, { lock: until, buckets: new Map() } satisfies Attempts, until - now);
    return true;
  }

  async swap(key: string, value: string, ttlMs: number): Promise<string | null> {
    const e = this.#get(key);
    this.#set(key, value, ttlMs);
    return e === undefined ? null : (e.value as string);
  }

  async windowAdd(key: string, at: number, amount: number, windowMs: number): Promise<WindowTotal> {
    const size = windowMs / WINDOW_BUCKETS;
    const b = Math.floor(at / size);
    const oldest = b - WINDOW_BUCKETS + 1;
    const e = this.#get(key);
    const w = (e?.value as SlidingSum | undefined) ?? { buckets: new Map<number, { sum: number; first: number }>(), last: 0 };
    const bucket = w.buckets.get(b);
    if (bucket === undefined) w.buckets.set(b, { sum: amount, first: at });
    else bucket.sum += amount;
    if (at > w.last) w.last = at;
    let total = 0;
    let first = Number.POSITIVE_INFINITY;
    for (const [n, x] of w.buckets) {
      if (n < oldest) { w.buckets.delete(n); continue; }
      total += x.sum;
      if (x.first < first) first = x.first;
    }
    this.#map.set(key, { value: w, expiresAt: this.#clock() + windowMs + size });
    return { total, first: Number.isFinite(first) ? first : at, last: w.last };
  }

  async windowAddDistinct(key: string, at: number, members: readonly string[], windowMs: number, cap: number): Promise<WindowTotal> {
    const e = this.#get(key);
    const seen = (e?.value as Map<string, number> | undefined) ?? new Map<string, number>();
    for (const [m, t] of seen) if (t <= at - windowMs) seen.delete(m);
    for (const m of members) {
      const t = seen.get(m);
      // Re-inserted so that the Map's order stays oldest-seen first (what the cap drops).
      if (t === undefined || at > t) { seen.delete(m); seen.set(m, at); }
    }
    dropOldest(seen, Math.max(1, cap));
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const t of seen.values()) {
      if (t < first) first = t;
      if (t > last) last = t;
    }
    this.#map.set(key, { value: seen, expiresAt: this.#clock() + windowMs });
    return { total: seen.size, first: Number.isFinite(first) ? first : at, last: Number.isFinite(last) ? last : at };
  }

  async markSeen(key: string, member: string, at: number, horizonMs: number, cap: number): Promise<SeenMark> {
    const e = this.#get(key);
    const seen = (e?.value as Map<string, number> | undefined) ?? new Map<string, number>();
    for (const [m, t] of seen) if (t <= at - horizonMs) seen.delete(m);
    const previous = seen.get(member) ?? null;
    const others = seen.size - (previous === null ? 0 : 1);
    if (previous === null || at > previous) { seen.delete(member); seen.set(member, at); }
    dropOldest(seen, Math.max(1, cap));
    this.#map.set(key, { value: seen, expiresAt: this.#clock() + horizonMs });
    return { previous, others };
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    this.#bus.on(channel, onMessage);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.#bus.emit(channel, message);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#bus.removeAllListeners();
    this.#map.clear();
  }

  /** Number of live entries (for tests showing nothing grows without bound). */
  size(): number {
    this.#collect();
    return this.#map.size;
  }
}
