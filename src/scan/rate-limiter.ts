// Spaces new connections (and HTTP requests) evenly: at most `perSecond` starts per second, shared by all workers.

/** Hands out start times `1/perSecond` apart; `take()` resolves when the caller's turn comes. */
export class RateLimiter {
  readonly #intervalMs: number;
  #next = 0;

  constructor(perSecond: number) {
    if (!(perSecond > 0)) throw new TypeError(`rate must be positive, got ${perSecond}`);
    this.#intervalMs = 1000 / perSecond;
  }

  /** Waits for the next free slot. */
  async take(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.#intervalMs;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}
