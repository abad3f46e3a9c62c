// The DIMSE TLS listener: accepts connections, hands each to an Association, enforces connection limits.

import type { AddressInfo, Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { closeListener, listenOn } from './listener-lifecycle.js';
import type { Audit } from '../audit/audit.js';
import { tlsFailureReason } from '../audit/outcome.js';
import type { Logger } from '../audit/logger.js';
import type { GatewayConfig } from '../config/types.js';
import type { IdentityResolver } from '../identity/resolver.js';
import { secureContextOptions, type TlsMaterial } from '../tls/material.js';
import { capConnections } from '../util/connection-caps.js';
import { TLS_SERVER_PROFILE } from '../tls/profile.js';
import type { ResumedCertificateCheck } from '../tls/resumed-peer-check.js';
import { systemClock, type Clock } from '../util/clock.js';
import { Association } from './association.js';
import { AssociationLimits } from './limits.js';

export interface DimseServerDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly audit: Audit;
  readonly identity: IdentityResolver;
  readonly tls: TlsMaterial;
  /** How often admitted principals are re-checked with identity.stillValid (default 10 s). */
  readonly revalidateMs?: number;
  /** Clock for association lifetimes (dicom.maxAssociationHours); default the system clock. */
  readonly clock?: Clock;
  /** Association limits shared with another DIMSE listener (the legacy port); default: this listener's own. */
  readonly limits?: AssociationLimits;
  /** Re-checks the client certificate of a resumed TLS session; without it a resumed certificate is not trusted. */
  readonly recheckPeer?: ResumedCertificateCheck;
  /** Session-ticket lifetime in seconds (tls.tickets); node's default 300 s when absent. */
  readonly sessionTimeout?: number;
}

export interface DimseServer {
  /** Starts listening on config.listen.dicom (port 0 = ephemeral). */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, aborts open associations (A-ABORT to both peers) and waits for them to close. */
  close(): Promise<void>;
  /** New TLS material (certificate hot reload): new handshakes use it, open associations continue. */
  setSecureContext(m: TlsMaterial): void;
  /** The session-ticket key (48 bytes, ticket-keys.ts); a new secure context needs it again. */
  setTicketKeys(key: Buffer): void;
  stats(): { associations: number };
}


/** Default interval for re-checking admitted principals (disabled users, revoked devices and tokens, ended sessions) and lifetimes. */
export const DEFAULT_REVALIDATE_MS = 10_000;

function contextOptions(m: TlsMaterial, sessionTimeout: number | undefined): Record<string, unknown> {
  return { ...TLS_SERVER_PROFILE, ...secureContextOptions(m), ...(sessionTimeout === undefined ? {} : { sessionTimeout }) };
}

/** Creates the DIMSE guard's TLS listener. */
export function createDimseServer(deps: DimseServerDeps): DimseServer {
  const { config } = deps;
  const log = deps.logger.child({ component: 'dimse' });
  const limits = deps.limits ?? new AssociationLimits(config.dicom.maxAssociations, config.dicom.maxAssociationsPerPrincipal);
  const open = new Set<Association>();
  const server = createServer({
    ...contextOptions(deps.tls, deps.sessionTimeout),
    // Clients may come without a certificate and use User Identity instead; a certificate that is
    // presented but fails verification is refused by the association guard (see admission.ts).
    requestCert: true,
    rejectUnauthorized: false,
    // Nagle off on the accepted TCP socket itself: a TLSSocket's setNoDelay does not reach it.
    noDelay: true,
    handshakeTimeout: config.dicom.artimSeconds * 1000,
  });
  // Ceilings on sockets (pre-association ones included), overall and per source address, counted
  // from the TCP accept, so that a flood of idle TLS connections cannot exhaust descriptors or crowd
  // out other clients; ARTIM closes the idle ones.
  capConnections(server, { maxConnections: config.dicom.maxConnections, maxPerAddress: config.dicom.maxConnectionsPerAddress }, { listener: 'dicom', logger: log, audit: deps.audit });
  const sockets = new Set<Socket>();
  server.on('connection', (raw: Socket) => {
    raw.setNoDelay(true);
    raw.on('error', () => undefined); // reported by the TLS socket or tlsClientError
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
  });

  const audit = deps.audit;
  server.on('secureConnection', (socket: TLSSocket) => {
    if (audit.listening) audit.outcome({ kind: 'tls', channel: 'dicom', source: socket.remoteAddress ?? 'unknown', ok: true, resumed: socket.isSessionReused() });
    try {
      const a = new Association(socket, { ...deps, logger: log, limits, revalidateMs: deps.revalidateMs ?? DEFAULT_REVALIDATE_MS, clock: deps.clock ?? systemClock });
      open.add(a);
      void a.closed.then(() => open.delete(a));
    } catch (err) {
      log.error({ err }, 'could not set up an association');
      socket.destroy();
    }
  });
  server.on('tlsClientError', (err, socket) => {
    // A peer that hung up mid-handshake (port scanners, connections over a cap) is not worth an info line each.
    const code = (err as NodeJS.ErrnoException).code;
    log[code === 'ECONNRESET' ? 'debug' : 'info']({ source: socket.remoteAddress, err: { message: err.message, code } }, 'TLS handshake failed');
    if (audit.listening) audit.outcome({ kind: 'tls', channel: 'dicom', source: socket.remoteAddress ?? 'unknown', ok: false, reason: tlsFailureReason(err) });
    socket.destroy();
  });
  server.on('error', (err) => log.error({ err }, 'DIMSE listener error'));

  return {
    listen: () => listenOn(server, config.listen.dicom.port, config.listen.dicom.host, (address) => {
      log.info({ address: address.address, port: address.port }, 'DIMSE TLS listener started');
    }),
    close: async () => {
      await closeListener(server, open, sockets);
    },
    setSecureContext: (m) => {
      server.setSecureContext(contextOptions(m, deps.sessionTimeout));
      log.info('DIMSE TLS material reloaded');
    },
    setTicketKeys: (key) => { server.setTicketKeys(key); },
    stats: () => ({ associations: open.size }),
  };
}
