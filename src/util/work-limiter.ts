// Bounds expensive work that clients can ask for before they are authenticated (password checks):
// a few at a time, a short waiting line, and a share per source so one source cannot fill the line.

import { GatewayError } from '../errors.js';

export interface WorkLimits {
  /** Runs at most this many at once. */
  readonly concurrency: number;
  /** At most this many wait for a free slot; beyond that ERR_BUSY. */
  readonly queue: number;
  /** At most this many running or waiting per key (source address); beyond that ERR_BUSY. */
  readonly perKey: number;
}

/** Why a run was refused, for the audit trail. */
export type BusyReason = 'queue-full' | 'source-share-full';

/** Initial guess of one run's duration, until runs have been timed (an scrypt check on a small host). */
const INITIAL_MEAN_MS = 500;

export class WorkLimiter {
  readonly #limits: WorkLimits;
  readonly #waiting: Array<() => void> = [];
  readonly #perKey = new Map<string, number>();
  #running = 0;
  #meanMs = INITIAL_MEAN_MS;

  constructor(limits: WorkLimits) {
    if (![limits.concurrency, limits.queue, limits.perKey].every((n) => Number.isInteger(n) && n >= 0) || limits.concurrency < 1 || limits.perKey < 1) {
      throw new TypeError(`WorkLimiter: concurrency and perKey must be positive integers, queue ≥ 0 (got ${JSON.stringify(limits)})`);
    }
    this.#limits = limits;
  }

  /** Runs now and waiting. */
  get load(): { readonly running: number; readonly waiting: number } {
    return { running: this.#running, waiting: this.#waiting.length };
  }

  /** How long a new arrival would wait, in whole seconds (at least 1): the line ahead of it at the mean run time. */
  #retryAfterSeconds(): number {
    const ahead = this.#running + this.#waiting.length;
    return Math.max(1, Math.ceil((ahead / this.#limits.concurrency) * this.#meanMs / 1000));
  }

  #busy(reason: BusyReason): GatewayError {
    return new GatewayError('ERR_BUSY', undefined, { detail: { retryAfterSeconds: this.#retryAfterSeconds(), reason } });
  }

  /**
   * Runs `work` when a slot is free, in arrival order. Rejects at once with ERR_BUSY (detail:
   * retryAfterSeconds, reason) when `key` already has its share running or waiting, or when every
   * slot is taken and the line is full.
   */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const mine = this.#perKey.get(key) ?? 0;
    if (mine >= this.#limits.perKey) throw this.#busy('source-share-full');
    if (this.#running >= this.#limits.concurrency && this.#waiting.length >= this.#limits.queue) throw this.#busy('queue-full');
    this.#perKey.set(key, mine + 1);
    try {
      if (this.#running >= this.#limits.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
      else this.#running++;
      const started = performance.now();
      try {
        return await work();
      } finally {
        // A running average of run times, for Retry-After only (never for a decision).
        this.#meanMs = 0.8 * this.#meanMs + 0.2 * (performance.now() - started);
        const next = this.#waiting.shift();
        if (next !== undefined) next(); // the slot passes on
        else this.#running--;
      }
    } finally {
      const n = (this.#perKey.get(key) ?? 1) - 1;
      if (n <= 0) this.#perKey.delete(key);
      else this.#perKey.set(key, n);
    }
  }
}
