// The established association's two directions: the request filter towards the PACS, the response relay back.

import type { Socket } from 'node:net';
import type { RequestFilter } from './request-filter.js';
import type { ResponseRelay } from './response-relay.js';
import { holdUntilDrained, writeAll } from './socket-io.js';

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

  constructor(client: Socket, upstream: Socket, filter: RequestFilter, relay: ResponseRelay) {
    this.#client = client;
    this.#upstream = upstream;
    this.filter = filter;
    this.relay = relay;
  }

  /** Writes everything produced so far. */
  flush(): void {
    if (!writeAll(this.#upstream, this.filter.toUpstream)) holdUntilDrained(this.#client, this.#upstream);
    if (!writeAll(this.#client, this.drainToClient())) holdUntilDrained(this.#upstream, this.#client);
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
