// The HTTPS listener: TLS termination in front of a streaming DICOMweb forwarder and the control plane.
//
// node's HTTP server costs 3–7 × nginx's CPU per proxied request (docs/benchmarks.md), so DICOMweb
// requests never enter it: the edge parses request heads itself, guards them and pipes bytes to a
// keep-alive pool of PACS connections. Everything else (login, logout, health, the login page) goes,
// over an in-process connection, to the fastify control plane.

import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer, type SecureContextOptions, type Server, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import { capConnections, type ConnectionCaps } from '../../util/connection-caps.js';
import { tlsFailureReason } from '../../audit/outcome.js';
import type { ResumedCertificateCheck } from '../../tls/resumed-peer-check.js';
import type { GuardDeps, Mount } from '../dicomweb-guard.js';
import { EdgeConnection, type EdgeContext } from './edge-connection.js';
import { UpstreamPool } from './upstream-pool.js';
import { createH2Edge } from './h2/h2-edge.js';

export interface EdgeOptions {
  readonly tls: TlsOptions;
  readonly mounts: readonly Mount[];
  readonly guard: GuardDeps;
  readonly trustProxy: boolean;
  readonly controlPlane: (server: Duplex) => void;
  readonly logger: Logger;
  readonly upstreamTimeoutMs: number;
  readonly keepAliveMs: number;
  /** Most open connections to each upstream. */
  readonly upstreamConnections: number;
  /** Caps on open client connections (http.maxConnections, maxConnectionsPerAddress); the gateway always sets them. */
  readonly connectionCaps?: ConnectionCaps;
  /** Offer HTTP/2 by ALPN (http.http2); HTTP/1.1 stays the fallback. */
  readonly http2?: boolean;
  /** Re-checks the client certificate of a resumed TLS session (resumed-peer-check.ts). */
  readonly recheckPeer?: ResumedCertificateCheck;
  /** The viewer's file answers the HTTP/2 edge may send itself (edge-connection.ts EdgeContext). */
  readonly viewer?: EdgeContext['viewer'];
}

export interface EdgeServer {
  listen(host: string, port: number): Promise<AddressInfo>;
  setSecureContext(options: SecureContextOptions): void;
  /** The session-ticket key (48 bytes, ticket-keys.ts); a new secure context needs it again. */
  setTicketKeys(key: Buffer): void;
  close(): Promise<void>;
}

function portOf(u: URL): number {
  if (u.port !== '') return Number(u.port);
  if (u.protocol === 'http:') return 80;
  throw new TypeError(`upstream ${u.origin}: only plain http:// upstreams are supported`);
}

export function createEdgeServer(o: EdgeOptions): EdgeServer {
  const pools = new Map<Mount, UpstreamPool>();
  const byOrigin = new Map<string, UpstreamPool>();
  for (const m of o.mounts) {
    let pool = byOrigin.get(m.upstream.origin);
    if (pool === undefined) {
      pool = new UpstreamPool({ host: m.upstream.hostname.replace(/^\[|\]$/g, ''), port: portOf(m.upstream), maxConnections: o.upstreamConnections, timeoutMs: o.upstreamTimeoutMs });
      byOrigin.set(m.upstream.origin, pool);
    }
    pools.set(m, pool);
  }
  const ctx = {
    mounts: o.mounts, pools, guard: o.guard, trustProxy: o.trustProxy, controlPlane: o.controlPlane,
    logger: o.logger, keepAliveMs: o.keepAliveMs, recheckPeer: o.recheckPeer, viewer: o.viewer,
  };
  const open = new Set<EdgeConnection>();
  const audit = o.guard.audit;
  const h2 = o.http2 === true ? createH2Edge(ctx) : undefined;
  // Without ALPN (or with http/1.1 chosen) a client speaks HTTP/1.1.
  const tls: TlsOptions = h2 === undefined ? o.tls : { ...o.tls, ALPNProtocols: ['h2', 'http/1.1'] };
  const server: Server = createServer(tls, (socket: TLSSocket) => {
    if (audit.listening) audit.outcome({ kind: 'tls', channel: 'https', source: socket.remoteAddress ?? 'unknown', ok: true, resumed: socket.isSessionReused() });
    if (h2 !== undefined && socket.alpnProtocol === 'h2') { h2.accept(socket); return; }
    const c = new EdgeConnection(socket, ctx);
    open.add(c);
    socket.once('close', () => open.delete(c));
  });
  if (o.connectionCaps !== undefined) capConnections(server, o.connectionCaps, { listener: 'https', logger: o.logger, audit: o.guard.audit });
  server.on('tlsClientError', (err: Error & { code?: string }, socket) => {
    o.logger.debug({ source: socket.remoteAddress, err: { message: err.message, code: err.code } }, 'TLS handshake failed');
    if (audit.listening) audit.outcome({ kind: 'tls', channel: 'https', source: socket.remoteAddress ?? 'unknown', ok: false, reason: tlsFailureReason(err) });
  });

  return {
    listen: (host, port) => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    }),
    setSecureContext: (options) => { server.setSecureContext(options); },
    setTicketKeys: (key) => { server.setTicketKeys(key); },
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      for (const c of open) c.destroy();
      h2?.close();
      for (const p of byOrigin.values()) p.close();
    }),
  };
}
