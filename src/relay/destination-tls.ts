// TLS towards a relay destination: the BCP 195 profile, its CA verified, the gateway's client certificate presented.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { RelayDestination } from '../config/types.js';
import { configPath } from '../config/load.js';
import { GatewayError } from '../errors.js';
import { TLS_SERVER_PROFILE } from '../tls/profile.js';

/** A destination with its TLS context built once (files read at start). */
export interface Destination {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
  readonly servername: string | undefined;
  readonly context: SecureContext;
}

function read(baseDir: string, file: string, what: string): string {
  try {
    return readFileSync(configPath({ baseDir }, file), 'utf8');
  } catch (err) {
    throw new GatewayError('ERR_CONFIG_READ', `${what}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads each destination's CA, certificate and key; throws ERR_CONFIG_READ (a file missing) or ERR_CERT_INVALID (not usable), naming the option. */
export function loadDestinations(destinations: Readonly<Record<string, RelayDestination>>, baseDir: string): ReadonlyMap<string, Destination> {
  const out = new Map<string, Destination>();
  for (const [aeTitle, d] of Object.entries(destinations)) {
    const at = `relay.destinations.${aeTitle}.tls`;
    // The versions, AEAD suites and curves of the listeners (DICOM PS3.15 B.9, BCP 195 non-downgrading).
    const { honorCipherOrder: _serverOnly, ...profile } = TLS_SERVER_PROFILE;
    const files = { ca: read(baseDir, d.tls.ca, `${at}.ca`), cert: read(baseDir, d.tls.cert, `${at}.cert`), key: read(baseDir, d.tls.key, `${at}.key`) };
    let context: SecureContext;
    try {
      context = createSecureContext({ ...profile, ...files });
    } catch (err) {
      throw new GatewayError('ERR_CERT_INVALID', `${at}: the CA, certificate or key is not usable PEM, or the key does not match the certificate (${(err as Error).message})`, { cause: err });
    }
    // RFC 6066 §3: no IP address as SNI; node then checks the certificate against the IP address.
    const servername = d.tls.servername ?? (isIP(d.host) === 0 ? d.host : undefined);
    out.set(aeTitle.trim(), { aeTitle: aeTitle.trim(), host: d.host, port: d.port, servername, context });
  }
  return out;
}

/** Opens the TLS connection; the certificate is verified (chain to `ca`, name) before 'secureConnect'. */
export function connectDestination(d: Destination): TLSSocket {
  const socket = connect({
    host: d.host, port: d.port, secureContext: d.context, rejectUnauthorized: true,
    ...(d.servername === undefined ? {} : { servername: d.servername }),
  });
  socket.setNoDelay(true);
  return socket;
}
