// Where the TLS and CA files live: the configured paths plus the CA key, default CRL and device files beside tls.clientCa.

import { dirname, join } from 'node:path';
import { configPath } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';

export interface TlsFilePaths {
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string;
  /** The CRL file: tls.crl, else the default beside the CA (certs/ca.crl). */
  readonly crl: string;
  /** True when tls.crl is configured: the file must then exist. The default CRL is used only when present. */
  readonly crlRequired: boolean;
  /** The CA's private key, beside tls.clientCa (certs/ca.key): the CLI signs with it; the gateway only compares it, to tell its own CA in tls.clientCa. */
  readonly caKey: string;
  /** Device certificates, keys and PKCS#12 bundles (certs/devices/NAME.{crt,key,p12}). */
  readonly devicesDir: string;
  /** The ECDSA P-256 server certificate and key: tls.ecdsa, else `server-ec.crt` / `server-ec.key` beside tls.cert and tls.key. */
  readonly ecdsaCert: string;
  readonly ecdsaKey: string;
  /** True when tls.ecdsa is configured: the files must then exist. The default pair is served only when both exist. */
  readonly ecdsaRequired: boolean;
}

/** `certs/ca.crt` → `certs/ca.<ext>` (also for `.pem` and extension-less names). */
function beside(file: string, ext: string): string {
  return file.replace(/\.(crt|pem|cer)$/i, '') + ext;
}

/** `certs/server.crt` → `certs/server-ec.crt` (also `.pem`, `.key` and extension-less names). */
function ecBeside(file: string): string {
  const m = /\.(crt|pem|cer|key)$/i.exec(file);
  return m === null ? `${file}-ec` : `${file.slice(0, m.index)}-ec${m[0]}`;
}

function ecdsaPaths(config: Pick<GatewayConfig, 'baseDir' | 'tls'>): Pick<TlsFilePaths, 'ecdsaCert' | 'ecdsaKey' | 'ecdsaRequired'> {
  const e = config.tls.ecdsa;
  return e === undefined
    ? { ecdsaCert: ecBeside(configPath(config, config.tls.cert)), ecdsaKey: ecBeside(configPath(config, config.tls.key)), ecdsaRequired: false }
    : { ecdsaCert: configPath(config, e.cert), ecdsaKey: configPath(config, e.key), ecdsaRequired: true };
}

/**
 * Resolves every TLS-related path against the config's base directory. tls.crl, when not set,
 * defaults to `ca.crl` beside tls.clientCa if that file exists (`certs init` writes an empty one),
 * so revocation works without a config edit and a CRL created later is picked up by hot reload.
 */
export function tlsFilePaths(config: Pick<GatewayConfig, 'baseDir' | 'tls'>): TlsFilePaths {
  const clientCa = configPath(config, config.tls.clientCa);
  return {
    cert: configPath(config, config.tls.cert),
    key: configPath(config, config.tls.key),
    clientCa,
    crl: config.tls.crl === undefined ? beside(clientCa, '.crl') : configPath(config, config.tls.crl),
    crlRequired: config.tls.crl !== undefined,
    caKey: beside(clientCa, '.key'),
    devicesDir: join(dirname(clientCa), 'devices'),
    ...ecdsaPaths(config),
  };
}
