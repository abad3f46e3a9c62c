// The log destination: lines gathered during one event-loop turn go to pino's SonicBoom writer in one piece.
//
// The audit trail writes a line per DICOMweb request. Handed to SonicBoom one by one, each line
// cost ~2.7 µs (its byte count, its buffer bookkeeping, a thread-pool write per few lines); in
// one piece per turn ~1.1 µs (docs/benchmarks.md). A line waits at most until the end of the
// turn it was logged in (setImmediate), and the lines of a process that exits are written first.

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

export class BatchedDestination implements DestinationStream {
  readonly #out: Writer;
  #lines: string[] = [];
  #scheduled = false;
  readonly #drain = (): void => {
    this.#scheduled = false;
    this.handOn();
  };

  constructor(out: Writer) {
    this.#out = out;
    installExitHook();
  }

  write(line: string): void {
    // In `pending` whenever it holds lines, even when a hand-on was already scheduled (a flush in
    // between emptied it): the exit hook must find every line.
    if (this.#lines.push(line) === 1) pending.add(this);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
  }

  /** Hands the gathered lines to the writer now (in one string, in logging order). */
  handOn(): void {
    pending.delete(this);
    const lines = this.#lines;
    if (lines.length === 0) return;
    this.#lines = [];
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

/** The gateway's default destination: stdout (fd 1), written asynchronously, batched per event-loop turn. */
export function stdoutDestination(): BatchedDestination {
  return new BatchedDestination(pino.destination({ fd: 1, sync: false }) as unknown as Writer);
}
