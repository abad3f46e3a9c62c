// The relay's cleartext listener for the PACS: source addresses checked against relay.allowFrom, each connection a RelayAssociation.

import { createServer, type AddressInfo, type Socket } from 'node:net';
import { closeListener, listenOn } from '../dicom/listener-lifecycle.js';
import type { Audit } from '../audit/audit.js';
import type { Logger } from '../audit/logger.js';
import type { GatewayConfig, RelayConfig } from '../config/types.js';
import { canonicalAddress } from '../util/address-key.js';
import type { Clock } from '../util/clock.js';
import { AllowList } from './allow-list.js';
import { loadDestinations } from './destination-tls.js';
import { MoveRegistry } from './move-registry.js';
import { RelayAssociation } from './relay-association.js';

export interface RelayServerDeps {
  /** The gateway's config (dicom.* limits, upstream.timeoutMs, baseDir); `relay` is the section to serve. */
  readonly config: GatewayConfig;
  readonly relay: RelayConfig;
  readonly logger: Logger;
  readonly audit: Audit;
  readonly clock: Clock;
}

export interface RelayServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting, aborts open associations and waits for them (a short grace period at most). */
  close(): Promise<void>;
  stats(): { associations: number };
}


/** Creates the relay listener; reads every destination's TLS files now (throws ERR_CONFIG_READ when one is missing). */
export function createRelayServer(deps: RelayServerDeps): RelayServer {
  const { relay } = deps;
  const log = deps.logger.child({ component: 'relay' });
  const destinations = loadDestinations(relay.destinations, deps.config.baseDir);
  const allow = new AllowList(relay.allowFrom);
  const moves = new MoveRegistry(deps.audit, deps.clock);
  const open = new Set<RelayAssociation>();
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true });
  server.maxConnections = deps.config.dicom.maxConnections;
  server.on('connection', (socket: Socket) => {
    const source = canonicalAddress(socket.remoteAddress ?? 'unknown');
    if (!allow.allows(socket.remoteAddress)) {
      // Not the PACS: closed before a byte is read or written.
      log.warn({ source }, 'relay connection from an address outside relay.allowFrom; closed');
      deps.audit.record({ event: 'relay.association', decision: 'deny', reason: 'address-not-allowed', source });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    try {
      const a = new RelayAssociation(socket, { config: deps.config, destinations, logger: log, audit: deps.audit, moves });
      open.add(a);
      void a.closed.then(() => open.delete(a));
    } catch (err) {
      log.error({ err }, 'could not set up a relay association');
      socket.destroy();
    }
  });
  server.on('error', (err) => log.error({ err }, 'relay listener error'));
  return {
    listen: () => listenOn(server, relay.listen.port, relay.listen.host, (address) => {
      log.info({ address: address.address, port: address.port, destinations: [...destinations.keys()] }, 'relay listener started');
    }),
    close: async () => {
      moves.close();
      await closeListener(server, open, sockets);
    },
    stats: () => ({ associations: open.size }),
  };
}
