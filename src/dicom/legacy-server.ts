// The fenced legacy DIMSE port (listen.dicomLegacy): plain TCP for modalities that cannot do TLS,
// open only to the addresses of legacyDevices; behind it the same association guard as the TLS port.

import { createServer, type AddressInfo, type Socket } from 'node:net';
import { closeListener, listenOn } from './listener-lifecycle.js';
import { AlertThrottle } from '../audit/alert-throttle.js';
import type { Audit } from '../audit/audit.js';
import type { Logger } from '../audit/logger.js';
import type { GatewayConfig, ListenAddress, RoleRules } from '../config/types.js';
import type { IdentityResolver, IdentityResult } from '../identity/resolver.js';
import { canonicalAddress } from '../util/address-key.js';
import { systemClock, type Clock } from '../util/clock.js';
import { capConnections } from '../util/connection-caps.js';
import { Association } from './association.js';
import { admitLegacy } from './legacy-admission.js';
import { LegacyDevices, legacyRoles } from './legacy-devices.js';
import type { AssociationLimits } from './limits.js';
import { DEFAULT_REVALIDATE_MS } from './server.js';

export interface LegacyServerDeps {
  readonly config: GatewayConfig;
  readonly listen: ListenAddress;
  readonly logger: Logger;
  readonly audit: Audit;
  readonly identity: IdentityResolver;
  /** Shared with the TLS port: dicom.maxAssociations and maxAssociationsPerPrincipal count both. */
  readonly limits: AssociationLimits;
  readonly revalidateMs?: number;
  readonly clock?: Clock;
}

export interface LegacyServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting, aborts open associations and waits (briefly) for them to close. */
  close(): Promise<void>;
  stats(): { associations: number };
}

const NEVER: IdentityResult = Object.freeze({ ok: false, refusal: 'no-identity', reason: 'not-on-the-legacy-port' });

/** Creates the legacy listener; nothing listens until listen(). */
export function createLegacyServer(deps: LegacyServerDeps): LegacyServer {
  const log = deps.logger.child({ component: 'dimse-legacy' });
  const devices = new LegacyDevices(deps.config.legacyDevices);
  const live = deps.config;
  // The guard reads roles per association and command: through this view, legacy roles are capped to echo and store.
  const config: GatewayConfig = Object.freeze(Object.defineProperty({ ...live }, 'roles', {
    enumerable: true, get: (): Readonly<Record<string, RoleRules>> => legacyRoles(live.roles),
  }));
  // A legacy principal is a configuration entry (restart-only): it stays valid while the entry exists.
  // Certificates and User Identity never reach the identity layer from this port.
  const identity: IdentityResolver = {
    fromCertificate: () => Promise.resolve(NEVER),
    fromUserIdentity: () => Promise.resolve(NEVER),
    stillValid: (p) => Promise.resolve(p.kind === 'legacy-device' && Object.hasOwn(live.legacyDevices, p.id) ? { valid: true } : { valid: false, reason: 'device-unknown' }),
  };
  const alerts = new AlertThrottle(deps.audit);
  const open = new Set<Association>();
  const sockets = new Set<Socket>();
  // Paused: node reads nothing from a connection until it is admitted by address (resume below).
  const server = createServer({ noDelay: true, pauseOnConnect: true });
  capConnections(server, { maxConnections: live.dicom.maxConnections, maxPerAddress: live.dicom.maxConnectionsPerAddress }, { listener: 'dicom-legacy', logger: log, audit: deps.audit });
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    const source = canonicalAddress(socket.remoteAddress ?? 'unknown');
    // Counted like a TLS handshake on the other ports (association-flood, metrics): refused, over a cap, or not.
    if (deps.audit.listening) deps.audit.outcome({ kind: 'connection', channel: 'dicom-legacy', source });
    if (socket.destroyed) return; // over a connection cap
    const candidates = devices.from(source);
    if (candidates.length === 0) {
      // Not one byte is read from an address no legacy device has: closed at once (the audit event and the throttled alert tell).
      socket.destroy();
      log.debug({ source }, 'legacy DICOM port: connection from an address of no legacy device; closed');
      deps.audit.record({ event: 'dicom.association', decision: 'deny', reason: 'legacy-address-not-allowed', source, channel: 'cleartext', listener: 'dicom-legacy' });
      alerts.alert('dicom.legacy-address-refused', source, { source, listener: 'dicom-legacy' });
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    try {
      const a = new Association(socket, {
        config, logger: log, audit: deps.audit, identity, limits: deps.limits,
        revalidateMs: deps.revalidateMs ?? DEFAULT_REVALIDATE_MS, clock: deps.clock ?? systemClock,
        cleartext: { admission: (rq) => admitLegacy(rq, candidates) },
      });
      open.add(a);
      void a.closed.then(() => open.delete(a));
      socket.resume();
    } catch (err) {
      log.error({ err }, 'could not set up an association');
      socket.destroy();
    }
  });
  server.on('error', (err) => log.error({ err }, 'legacy DIMSE listener error'));

  return {
    listen: () => listenOn(server, deps.listen.port, deps.listen.host, (address) => {
      log.warn({ address: address.address, port: address.port, devices: devices.size }, 'legacy DIMSE listener started: CLEARTEXT, for the legacyDevices only');
    }),
    close: async () => {
      await closeListener(server, open, sockets);
    },
    stats: () => ({ associations: open.size }),
  };
}
