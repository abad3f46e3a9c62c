// An in-process connection between the HTTPS edge and the control-plane HTTP server (login, health).
//
// No port, no file: only the edge can reach the control plane. The server's end looks like the
// client's TLS socket (address, certificate), so the control plane sees the real client.

import { Duplex } from 'node:stream';
import type { PeerIdentity } from '../../tls/peer-identity.js';

/** The parts of the client's TLS socket the control plane may read. */
export interface ClientFacts {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** The client's identity, as its TLS handshake established it. */
  readonly peerIdentity: PeerIdentity;
}

class End extends Duplex {
  peer: End | undefined;
  #pendingWrite: (() => void) | undefined;

  override _read(): void {
    // The reader wants more: let the peer's held write complete.
    const peer = this.peer;
    if (peer === undefined) return;
    const p = peer.#pendingWrite;
    if (p !== undefined) {
      peer.#pendingWrite = undefined;
      p();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer === undefined || peer.destroyed) { cb(new Error('internal connection closed')); return; }
    if (peer.push(chunk)) cb();
    else this.#pendingWrite = () => cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.peer?.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = undefined;
    const p = this.#pendingWrite;
    this.#pendingWrite = undefined;
    p?.();
    if (peer !== undefined && !peer.destroyed) peer.destroy();
    cb(err);
  }

  // What node's HTTP server calls on a socket; there is no kernel socket behind this one.
  setTimeout(): this { return this; }
  setNoDelay(): this { return this; }
  setKeepAlive(): this { return this; }
  ref(): this { return this; }
  unref(): this { return this; }
}

class ServerEnd extends End {
  readonly encrypted = true;
  readonly #client: ClientFacts;

  constructor(client: ClientFacts) {
    super({ allowHalfOpen: true });
    this.#client = client;
  }

  get remoteAddress(): string | undefined { return this.#client.remoteAddress; }
  get remotePort(): number | undefined { return this.#client.remotePort; }
  get remoteFamily(): string { return (this.#client.remoteAddress ?? '').includes(':') ? 'IPv6' : 'IPv4'; }
  /** The client's TLS identity snapshot (authInputOf reads it); the control plane never sees the TLS socket. */
  get peerIdentity(): PeerIdentity { return this.#client.peerIdentity; }
  address(): Record<string, never> { return {}; }
}

/** A connected pair: the edge writes requests into `edge`, the control-plane server reads them from `server`. */
export function internalConnection(client: ClientFacts): { edge: Duplex; server: Duplex } {
  const edge = new End({ allowHalfOpen: true });
  const server = new ServerEnd(client);
  edge.peer = server;
  server.peer = edge;
  return { edge, server };
}
