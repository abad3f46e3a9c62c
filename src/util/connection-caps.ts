// Caps on a listener's open connections, overall and per source address (IPv6: per /64), applied as
// the TCP connection is accepted: before any TLS handshake, HTTP request or A-ASSOCIATE-RQ is read,
// so a refused connection costs the gateway nothing but the accept.

import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { AlertThrottle } from '../audit/alert-throttle.js';
import type { Audit } from '../audit/audit.js';
import { addressKey } from './address-key.js';

export interface ConnectionCaps {
  /** Open connections on the listener; further ones are closed at once (node's server.maxConnections). */
  readonly maxConnections: number;
  /** Open connections per source address; 0 = no per-address cap. */
  readonly maxPerAddress: number;
}

export interface CapDeps {
  /** Names the listener in logs and alerts. */
  readonly listener: 'https' | 'dicom' | 'dicom-legacy';
  readonly logger: Logger;
  readonly audit: Audit;
}

/** What a capped listener reports. */
export interface CappedListener {
  /** Open connections counted for a source address's key. */
  openFrom(address: string): number;
}

/**
 * Applies `caps` to `server`. A refused connection is closed without a byte written (there is no
 * request yet to answer), logged at debug, and raises the alert `connections.refused` (at most one
 * per listener and cap every 10 s, with how many were held back since).
 */
export function capConnections(server: Server, caps: ConnectionCaps, deps: CapDeps): CappedListener {
  const alerts = new AlertThrottle(deps.audit);
  const open = new Map<string, number>();
  const refused = (scope: 'listener' | 'address', source: string | undefined, limit: number): void => {
    const key = addressKey(source ?? '');
    deps.logger.debug({ listener: deps.listener, scope, source, limit }, 'connection refused: connection cap reached');
    alerts.alert('connections.refused', `${deps.listener} ${scope}`, { listener: deps.listener, scope, source, addressKey: key, limit });
  };
  server.maxConnections = caps.maxConnections;
  server.on('drop', (d?: { remoteAddress?: string }) => refused('listener', d?.remoteAddress, caps.maxConnections));
  if (caps.maxPerAddress > 0) {
    server.on('connection', (socket: Socket) => {
      const key = addressKey(socket.remoteAddress ?? '');
      const n = open.get(key) ?? 0;
      if (n >= caps.maxPerAddress) {
        socket.destroy();
        refused('address', socket.remoteAddress, caps.maxPerAddress);
        return;
      }
      open.set(key, n + 1);
      socket.once('close', () => {
        const left = (open.get(key) ?? 1) - 1;
        if (left <= 0) open.delete(key);
        else open.set(key, left);
      });
    });
  }
  return { openFrom: (address) => open.get(addressKey(address)) ?? 0 };
}
