// The log destination: lines gathered for up to log.flushMs go to pino's SonicBoom writer in one piece.
//
// The audit trail writes a line per DICOMweb request. Handed to SonicBoom one by one, each line
// cost ~2.7 µs (its byte count, its buffer bookkeeping, a thread-pool write per few lines); in
// one piece per event-loop turn ~1.1 µs; gathered for 20 ms (up to 64 K characters), ~5 µs less
// per QIDO-RS request again (docs/benchmarks.md). A line waits at most `maxDelayMs` (0: until the
// end of the turn it was logged in), and the lines of a process that exits are written first;
// a process killed outright (SIGKILL) loses what it gathered, at most that long.

import { pino, type DestinationStream } from 'pino';

/** The SonicBoom calls used: `minLength` is its (public, mutable) threshold for starting a write. */
interface Writer { minLength: number; write(s: string): boolean; flushSync(): void; flush(cb?: (err?: Error) => void): void }

/** Destinations holding lines not yet handed on; drained before pino's own exit handler flushes. */
const pending = new Set<BatchedDestination>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Prepended: pino flushes and ends its writers on 'exit'; these lines must be written first,
  // synchronously (a write started now on the thread pool may be cut off when the process ends).
  process.prependListener('exit', () => {
    for (const d of pending) {
      try { d.flushSync(); } catch { /* a destroyed writer: nothing can be written any more */ }
    }
  });
}

export interface BatchOptions {
  /** Longest a line waits before it is handed on, in ms; 0: the end of the event-loop turn it was logged in. */
  readonly maxDelayMs?: number;
  /** Characters gathered that hand the batch on at once, whatever the delay. */
  readonly maxChars?: number;
}

export class BatchedDestination implements DestinationStream {
  readonly #out: Writer;
  readonly #delay: number;
  readonly #maxChars: number;
  #lines: string[] = [];
  #chars = 0;
  #scheduled = false;
  readonly #drain = (): void => {
    this.#scheduled = false;
    this.handOn();
  };

  constructor(out: Writer, o: BatchOptions = {}) {
    this.#out = out;
    this.#delay = o.maxDelayMs ?? 0;
    this.#maxChars = o.maxChars ?? 65_536;
    installExitHook();
  }

  write(line: string): void {
    // In `pending` whenever it holds lines, even when a hand-on was already scheduled (a flush in
    // between emptied it): the exit hook must find every line.
    if (this.#lines.push(line) === 1) pending.add(this);
    this.#chars += line.length;
    if (this.#chars >= this.#maxChars) { this.handOn(); return; }
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#delay === 0) setImmediate(this.#drain);
      else setTimeout(this.#drain, this.#delay).unref();
    }
  }

  /** Hands the gathered lines to the writer now (in one string, in logging order). */
  handOn(): void {
    pending.delete(this);
    const lines = this.#lines;
    if (lines.length === 0) return;
    this.#lines = [];
    this.#chars = 0;
    this.#out.write(lines.length === 1 ? lines[0]! : lines.join(''));
  }

  /** Writes everything synchronously, in order (process exit). */
  flushSync(): void {
    const out = this.#out;
    const minLength = out.minLength;
    // Below its minLength SonicBoom only queues what it is given, so the lines go out in the
    // synchronous flush rather than in an asynchronous write started here.
    out.minLength = Number.POSITIVE_INFINITY;
    try {
      this.handOn();
    } finally {
      out.minLength = minLength;
    }
    out.flushSync();
  }

  flush(cb?: (err?: Error) => void): void {
    this.handOn();
    this.#out.flush(cb);
  }
}

/** The gateway's default destination: stdout (fd 1), written asynchronously, batched for up to `flushMs` (log.flushMs). */
export function stdoutDestination(flushMs: number): BatchedDestination {
  return new BatchedDestination(pino.destination({ fd: 1, sync: false }) as unknown as Writer, { maxDelayMs: flushMs });
}
