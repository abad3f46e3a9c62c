// Keep-alive in-process connections from one HTTP/2 session to the control plane (viewer files, login, account).
//
// A control-plane request on an HTTP/2 stream is an HTTP/1.1 request over an in-process connection
// (h2-control-plane.ts). A new connection per request costs an HTTP client and server connection
// set-up each time; a browser opening the viewer asks for ~50 files at once on one session. These
// agents keep up to MAX_SOCKETS connections per session and client address and reuse them. The
// address is part of the key because the control plane reads the client's address from its
// connection: behind a trusted proxy (http.trustProxy) one session may carry several clients.

import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import { internalConnection, type ClientFacts } from '../internal-socket.js';

/** Connections per session and address (more requests at once wait for one, in order). */
export const MAX_SOCKETS = 16;
/** Addresses per session given agents; requests from further ones get a connection each, as before. */
const MAX_ADDRESSES = 8;

export class ControlPlaneAgents {
  readonly #controlPlane: (server: Duplex) => void;
  readonly #agents = new Map<string, Agent>();

  constructor(controlPlane: (server: Duplex) => void) {
    this.#controlPlane = controlPlane;
  }

  /** A new in-process connection to the control plane for `client`: its edge end. */
  static connect(client: ClientFacts, controlPlane: (server: Duplex) => void): Duplex {
    const pair = internalConnection(client);
    controlPlane(pair.server);
    return pair.edge;
  }

  /** The agent for `client`'s requests, or undefined (too many addresses on this session: no pooling). */
  for(client: ClientFacts): Agent | undefined {
    const key = client.remoteAddress ?? '';
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      if (this.#agents.size >= MAX_ADDRESSES) return undefined;
      agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS });
      const controlPlane = this.#controlPlane;
      agent.createConnection = () => ControlPlaneAgents.connect(client, controlPlane) as never;
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** The session ended: its connections close. */
  destroy(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }
}
