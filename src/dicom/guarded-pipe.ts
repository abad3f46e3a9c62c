// The established association's two directions: the request filter towards the PACS, the response relay back.

import type { Socket } from 'node:net';
import type { RequestFilter } from './request-filter.js';
import type { ResponseRelay } from './response-relay.js';
import { holdUntilDrained, writeAll } from './socket-io.js';
import { SLAB_BYTES } from '../util/slab-pool.js';
import { UpstreamBatch } from './upstream-batch.js';

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
  /** What the filter forwarded, copied out of the client's chunks, waiting to be written. */
  readonly #batch: UpstreamBatch;
  /** Gateway responses waiting for a PACS message boundary. */
  readonly #pending: Buffer[] = [];
  /** A write of what is queued for the PACS is scheduled (see flush). */
  #upstreamScheduled = false;

  constructor(client: Socket, upstream: Socket, filter: RequestFilter, relay: ResponseRelay) {
    this.#client = client;
    this.#upstream = upstream;
    this.#batch = new UpstreamBatch(upstream);
    this.filter = filter;
    this.relay = relay;
    // The relay reports each request's outcome; it learns from the filter what was forwarded.
    if (relay.reporting) filter.tracker = relay;
  }

  /**
   * Writes everything produced so far; called after every chunk read from either side. What the
   * filter forwarded is copied into the batch first (the client's chunks are views of a shared
   * read buffer, valid only until this returns; see socket-read.ts). Towards the PACS, less than
   * a slab waits for the end of the current I/O phase (setImmediate), unless it completes a
   * command or a data set (RequestFilter.partEnded): one TLS read yields several
   * records, and dcmtk sends each PDU's 12 header bytes as a record of their own, so writing per
   * record cost two syscalls per PDU, a third of the gateway's CPU on C-STORE
   * (docs/benchmarks.md). Batched, they leave in one write. Control PDUs written directly
   * (release, abort) take the queue first (drainToUpstream), so the order on the wire holds.
   */
  flush(): void {
    const batch = this.#batch;
    if (this.filter.toUpstream.length > 0) batch.append(this.filter.toUpstream);
    // A whole command or the end of a data set goes at once: the PACS answers only once it has it.
    const partEnded = this.filter.partEnded;
    this.filter.partEnded = false;
    if (batch.queued >= SLAB_BYTES || (partEnded && batch.queued > 0)) this.#writeUpstream();
    else if (batch.queued > 0 && !this.#upstreamScheduled) {
      this.#upstreamScheduled = true;
      setImmediate(this.#scheduledWrite);
    }
    if (this.relay.toClient.length > 0 || this.filter.toClient.length > 0 || this.#pending.length > 0) {
      if (!writeAll(this.#client, this.drainToClient())) holdUntilDrained(this.#upstream, this.#client);
    } else if (this.#client.writableNeedDrain) {
      holdUntilDrained(this.#upstream, this.#client);
    }
  }

  readonly #scheduledWrite = (): void => {
    this.#upstreamScheduled = false;
    this.#writeUpstream();
  };

  #writeUpstream(): void {
    if (!this.#batch.write()) holdUntilDrained(this.#client, this.#upstream);
  }

  /** Drops what the filter queued from a chunk that failed part-way (views of the shared read buffer, never written). */
  dropUncopied(): void {
    this.filter.toUpstream.length = 0;
  }

  /** Takes what is queued for the PACS, as copies (to send ahead of a PDU the caller forwards itself). */
  drainToUpstream(): Buffer[] {
    this.#batch.append(this.filter.toUpstream);
    return this.#batch.take();
  }

  /** Takes what is queued for the client: PACS bytes first, then gateway responses if at a boundary. */
  drainToClient(): Buffer[] {
    this.#pending.push(...this.filter.toClient.splice(0));
    const out = this.relay.toClient.splice(0);
    if (this.relay.atMessageBoundary) out.push(...this.#pending.splice(0));
    return out;
  }
}
