// The established association's two directions: the request filter towards the PACS, the response relay back.

import type { Socket } from 'node:net';
import type { RequestFilter } from './request-filter.js';
import type { ResponseRelay } from './response-relay.js';
import { holdUntilDrained, writeAll } from './socket-io.js';

/** Queued bytes towards the PACS that are written at once rather than at the end of the I/O phase. */
const UPSTREAM_BATCH_BYTES = 65536;

/**
 * Moves what the filter and the relay produced to the sockets, with backpressure both ways
 * (a full socket pauses the other leg until it drains), and inserts the gateway's own responses
 * to refused requests into the PACS → client stream only at PACS message boundaries.
 */
export class GuardedPipe {
  readonly filter: RequestFilter;
  readonly relay: ResponseRelay;
  readonly #client: Socket;
  readonly #upstream: Socket;
  /** Gateway responses waiting for a PACS message boundary. */
  readonly #pending: Buffer[] = [];
  /** A write of what is queued for the PACS is scheduled (see flush). */
  #upstreamScheduled = false;

  constructor(client: Socket, upstream: Socket, filter: RequestFilter, relay: ResponseRelay) {
    this.#client = client;
    this.#upstream = upstream;
    this.filter = filter;
    this.relay = relay;
  }

  /**
   * Writes everything produced so far. Towards the PACS, small amounts wait for the end of the
   * current I/O phase (setImmediate), up to {@link UPSTREAM_BATCH_BYTES}: one TLS read yields several
   * records, and dcmtk sends each PDU's 12 header bytes as a record of their own, so writing per
   * record cost two syscalls per PDU, a third of the gateway's CPU on C-STORE (docs/benchmarks.md).
   * Batched, they leave in one writev. Control PDUs written directly (release, abort) take the
   * queue first (drainToUpstream), so the order on the wire holds.
   */
  flush(): void {
    const queued = this.filter.toUpstream;
    if (queued.length > 0) {
      let bytes = 0;
      for (const b of queued) bytes += b.length;
      if (bytes >= UPSTREAM_BATCH_BYTES) this.#writeUpstream();
      else if (!this.#upstreamScheduled) {
        this.#upstreamScheduled = true;
        setImmediate(() => {
          this.#upstreamScheduled = false;
          this.#writeUpstream();
        });
      }
    }
    if (!writeAll(this.#client, this.drainToClient())) holdUntilDrained(this.#upstream, this.#client);
  }

  #writeUpstream(): void {
    if (!writeAll(this.#upstream, this.filter.toUpstream)) holdUntilDrained(this.#client, this.#upstream);
  }

  /** Takes what is queued for the PACS (to send ahead of a PDU the caller forwards itself). */
  drainToUpstream(): Buffer[] {
    return this.filter.toUpstream.splice(0);
  }

  /** Takes what is queued for the client: PACS bytes first, then gateway responses if at a boundary. */
  drainToClient(): Buffer[] {
    this.#pending.push(...this.filter.toClient.splice(0));
    const out = this.relay.toClient.splice(0);
    if (this.relay.atMessageBoundary) out.push(...this.#pending.splice(0));
    return out;
  }
}
