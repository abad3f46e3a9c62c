// The two sockets of one association (client, PACS) and how they end: graceful or forced, released once.

import type { Socket } from 'node:net';
import { endSoon } from './socket-io.js';

export class AssociationLegs {
  readonly client: Socket;
  /** Resolves once both sockets have closed (the PACS's only if it was opened). */
  readonly closed: Promise<void>;
  #upstream: Socket | undefined;
  #clientClosed = false;
  #upstreamClosed = false;
  #resolveClosed!: () => void;
  readonly #release: () => void;

  /** `release` frees what the association holds (timers, limit slots); it is run at every finish(). */
  constructor(client: Socket, release: () => void) {
    this.client = client;
    this.#release = release;
    this.closed = new Promise((r) => { this.#resolveClosed = r; });
  }

  get upstream(): Socket | undefined { return this.#upstream; }
  set upstream(socket: Socket) { this.#upstream = socket; }

  /** The client's socket emitted 'close'. */
  clientClosed(): void { this.#clientClosed = true; }
  /** The PACS's socket emitted 'close'. */
  upstreamClosed(): void { this.#upstreamClosed = true; }

  /** Graceful end of both legs (pending writes are flushed), forced after `graceMs`. */
  end(graceMs: number): void {
    endSoon(this.client, graceMs);
    if (this.#upstream !== undefined) endSoon(this.#upstream, graceMs);
  }

  /** Forced end of both legs. */
  destroy(): void {
    this.client.destroy();
    this.#upstream?.destroy();
  }

  /** Releases what the association holds; resolves `closed` once both sockets have closed. */
  finish(): void {
    this.#release();
    if (this.#clientClosed && (this.#upstream === undefined || this.#upstreamClosed)) this.#resolveClosed();
  }
}
