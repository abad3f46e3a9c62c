// How many of one HTTP/2 connection's requests are at the PACS at once. A browser on HTTP/1.1 sends
// six at a time (one per connection); on HTTP/2 a viewer can ask for a whole series at once, and
// 200 simultaneous exchanges crowd the PACS (and the shared connection pool) without making the
// series arrive sooner. The rest wait here, in order, after the guard has allowed them.

export class PacsSlots {
  readonly #max: number;
  #inUse = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  /** Calls `run` once a slot is free (at once when one is); the caller gives it back with release(). */
  take(run: () => void): void {
    if (this.#inUse < this.#max) { this.#inUse++; run(); return; }
    this.#waiting.push(run);
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) { next(); return; }
    this.#inUse--;
  }
}
