// The gateway's CA on disk: create it (certs init), load it for signing, and issue the server certificate.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { GatewayError } from '../errors.js';
import { atomicWrite } from '../util/atomic-write.js';
import { createCa, issueCertificate, type CaMaterial, type IssuedCertificate } from './issue.js';
import { issueEcdsaServerCertificate } from './issue-ecdsa.js';
import { parseCertificates } from './material.js';
import { writeCrl } from './revocation.js';
import type { TlsFilePaths } from './tls-paths.js';

export interface LoadedCa extends CaMaterial {
  readonly cert: X509Certificate;
}

export interface InitCaResult {
  readonly ca: IssuedCertificate;
  /** Files written: CA certificate, CA key, empty CRL. */
  readonly written: readonly string[];
  /** Earlier files moved aside by --force. */
  readonly backups: readonly string[];
}

/**
 * Creates the CA: key (mode 0600) beside tls.clientCa, certificate as tls.clientCa, and an
 * empty CRL (so revocation is in force from the start). Refuses when a CA key or certificate
 * exists, unless `force`: then the old files are kept as `*.replaced-<time>` (every certificate
 * the old CA issued stops working).
 */
export function initCa(paths: TlsFilePaths, o: { force?: boolean; commonName?: string; days?: number; now?: number } = {}): InitCaResult {
  const existing = [paths.caKey, paths.clientCa, paths.crl].filter((f) => existsSync(f));
  if (existing.some((f) => f !== paths.crl) && o.force !== true) {
    throw new GatewayError('ERR_CA_EXISTS', `a CA already exists (${existing.join(', ')}); "certs init --force" replaces it, and every certificate it issued stops working`);
  }
  const now = o.now ?? Date.now();
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  const backups: string[] = [];
  for (const f of existing) {
    const to = `${f}.replaced-${stamp}`;
    renameSync(f, to);
    backups.push(to);
  }
  const ca = createCa({ commonName: o.commonName ?? `pacs-gateway CA (${hostname()})`, now, ...(o.days === undefined ? {} : { days: o.days }) });
  atomicWrite(paths.caKey, ca.keyPem, 0o600);
  atomicWrite(paths.clientCa, ca.certPem, 0o644);
  writeCrl(paths, { ...ca, cert: new X509Certificate(ca.certPem) }, [], now);
  return { ca, written: [paths.clientCa, paths.caKey, paths.crl], backups };
}

/** Loads the CA key and the certificate in tls.clientCa that matches it. */
export function loadCa(paths: TlsFilePaths): LoadedCa {
  if (!existsSync(paths.caKey)) {
    throw new GatewayError('ERR_CERT_INVALID', `no CA key at ${paths.caKey}: create the CA first with "pacs-gateway certs init"`);
  }
  const keyPem = readFileSync(paths.caKey, 'utf8');
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new GatewayError('ERR_CERT_INVALID', `${paths.caKey} is not a readable PEM private key: ${(err as Error).message}`, { cause: err });
  }
  if (!existsSync(paths.clientCa)) throw new GatewayError('ERR_CERT_INVALID', `${paths.clientCa} (tls.clientCa) is missing; it should hold the CA certificate`);
  const cert = parseCertificates(readFileSync(paths.clientCa), paths.clientCa).find((c) => c.checkPrivateKey(key));
  if (cert === undefined) throw new GatewayError('ERR_CERT_INVALID', `no certificate in ${paths.clientCa} matches the CA key ${paths.caKey}`);
  if (Date.parse(cert.validTo) <= Date.now()) throw new GatewayError('ERR_CERT_INVALID', `the CA certificate expired on ${cert.validTo}: create a new CA (certs init --force) and reissue every certificate`);
  return { certPem: cert.toString(), keyPem, cert };
}

/** Which server certificates `certs issue-server` makes: RSA (tls.cert), ECDSA P-256 (tls.ecdsa), or both. */
export type ServerKeyType = 'rsa' | 'ecdsa' | 'both';

export interface IssuedServer {
  readonly rsa?: IssuedCertificate;
  readonly ecdsa?: IssuedCertificate;
}

/**
 * Issues the gateway's server certificate(s): RSA into tls.key (0600) and tls.cert, ECDSA P-256
 * into the tls.ecdsa pair (by default server-ec.key / server-ec.crt beside them). The running
 * gateway picks them up. Keys are written before certificates, so a reload never pairs a new
 * certificate with an old key for long (the watcher waits for both).
 */
export function issueServerCertificate(paths: TlsFilePaths, ca: LoadedCa, o: { dnsNames: readonly string[]; ipAddresses: readonly string[]; days?: number; keyType?: ServerKeyType }): IssuedServer {
  const commonName = o.dnsNames[0] ?? o.ipAddresses[0];
  if (commonName === undefined) throw new GatewayError('ERR_USAGE', 'certs issue-server needs at least one --dns NAME or --ip ADDRESS (the names clients connect to)');
  const type = o.keyType ?? 'rsa';
  const common = { commonName, dnsNames: o.dnsNames, ipAddresses: o.ipAddresses, ...(o.days === undefined ? {} : { days: o.days }) };
  const rsa = type === 'ecdsa' ? undefined : issueCertificate(ca, { ...common, usage: 'server' });
  const ecdsa = type === 'rsa' ? undefined : issueEcdsaServerCertificate(ca, common);
  if (rsa !== undefined) {
    atomicWrite(paths.key, rsa.keyPem, 0o600);
    atomicWrite(paths.cert, rsa.certPem, 0o644);
  }
  if (ecdsa !== undefined) {
    atomicWrite(paths.ecdsaKey, ecdsa.keyPem, 0o600);
    atomicWrite(paths.ecdsaCert, ecdsa.certPem, 0o644);
  }
  return { ...(rsa === undefined ? {} : { rsa }), ...(ecdsa === undefined ? {} : { ecdsa }) };
}
