// Timers of one association (ARTIM, upstream answer, idle, re-validation), all unref'd and cleared together.

/** A set of timers that never keep the process alive and are cleared at once. */
export class Timers {
  readonly #all = new Set<NodeJS.Timeout>();
  readonly #onError: (err: unknown) => void;

  /** `onError` receives anything a callback throws (so that it never reaches the event loop). */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  #run(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#onError(err);
    }
  }

  /** Runs `fn` once after `ms`. */
  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#all.delete(t);
      this.#run(fn);
    }, ms);
    t.unref();
    this.#all.add(t);
  }

  /** Runs `fn` every `ms`. */
  every(ms: number, fn: () => void): void {
    const t = setInterval(() => this.#run(fn), ms);
    t.unref();
    this.#all.add(t);
  }

  /**
   * Calls `onIdle` once nothing has happened for `ms`, where `lastActivity()` says when something
   * last did. One timer re-armed per period, rather than one reset per chunk.
   */
  idle(ms: number, lastActivity: () => number, onIdle: () => void): void {
    const check = (): void => {
      const quiet = Date.now() - lastActivity();
      if (quiet < ms) this.after(ms - quiet, check);
      else onIdle();
    };
    this.after(ms, check);
  }

  clear(): void {
    for (const t of this.#all) clearTimeout(t);
    this.#all.clear();
  }
}
