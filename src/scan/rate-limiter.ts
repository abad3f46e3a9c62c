// Spaces new connections (and HTTP requests) evenly: at most `perSecond` starts per second, shared by all workers.

/** Where the limiter reads the time and waits (an injected clock in tests). */
export interface LimiterClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_CLOCK: LimiterClock = Object.freeze({
  now: () => performance.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
});

/** Hands out start times `1/perSecond` apart; `take()` resolves when the caller's turn comes. */
export class RateLimiter {
  readonly #intervalMs: number;
  readonly #clock: LimiterClock;
  #next = 0;

  constructor(perSecond: number, clock: LimiterClock = REAL_CLOCK) {
    if (!(perSecond > 0)) throw new TypeError(`rate must be positive, got ${perSecond}`);
    this.#intervalMs = 1000 / perSecond;
    this.#clock = clock;
  }

  /** Waits for the next free slot. */
  async take(): Promise<void> {
    const now = this.#clock.now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.#intervalMs;
    if (at > now) await this.#clock.sleep(at - now);
  }
}
