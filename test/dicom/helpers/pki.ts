// Test PKI for the DIMSE listener: a CA, server and device certificates, a stranger CA, an expired and a revoked device (CRL via openssl).

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate, type IssuedCertificate } from '../../../src/tls/issue.js';
import type { TlsMaterial } from '../../../src/tls/material.js';

export interface TestPki {
  readonly ca: IssuedCertificate;
  readonly server: IssuedCertificate;
  /** A device certificate from the gateway's CA. */
  readonly device: IssuedCertificate;
  /** A second device certificate from the gateway's CA, revoked in `crlPem`. */
  readonly revoked: IssuedCertificate;
  /** Issued by the gateway's CA, valid only in the past. */
  readonly expired: IssuedCertificate;
  /** Issued by a CA the gateway does not trust. */
  readonly stranger: IssuedCertificate;
  /** A CRL from the gateway's CA revoking `revoked`. */
  readonly crlPem: string;
}

/** openssl's `ca` database line date format: YYMMDDHHMMSSZ. */
function opensslDate(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

/** Builds a CRL signed by `ca` that revokes `cert`, with the openssl CLI (Debian's openssl). */
export function makeCrl(ca: IssuedCertificate, revoked: IssuedCertificate[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-crl-'));
  try {
    const lines = revoked.map((c) => {
      const x = new X509Certificate(c.certPem);
      return ['R', opensslDate(new Date(x.validTo)), opensslDate(new Date(Date.now() - 60_000)), x.serialNumber.toUpperCase(), 'unknown', '/CN=revoked'].join('\t');
    });
    writeFileSync(join(dir, 'index.txt'), lines.map((l) => `${l}\n`).join(''));
    writeFileSync(join(dir, 'crlnumber'), '01\n');
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'ca.key'), ca.keyPem);
    writeFileSync(join(dir, 'openssl.cnf'), [
      '[ ca ]', 'default_ca = gw', '[ gw ]', `dir = ${dir}`, 'database = $dir/index.txt', 'crlnumber = $dir/crlnumber',
      'certificate = $dir/ca.crt', 'private_key = $dir/ca.key', 'default_md = sha256', 'default_crl_days = 30', '',
    ].join('\n'));
    execFileSync('openssl', ['ca', '-batch', '-gencrl', '-config', join(dir, 'openssl.cnf'), '-out', join(dir, 'crl.pem')], { stdio: 'pipe' });
    return readFileSync(join(dir, 'crl.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let cached: TestPki | undefined;

/** The PKI, generated once per test process (RSA key generation takes a moment). */
export function testPki(): TestPki {
  if (cached !== undefined) return cached;
  const ca = createCa({ commonName: 'pgw test CA' });
  const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const device = issueCertificate(ca, { commonName: 'ct-scanner-1', usage: 'client' });
  const revoked = issueCertificate(ca, { commonName: 'ct-scanner-old', usage: 'client' });
  const expired = issueCertificate(ca, { commonName: 'ct-scanner-expired', usage: 'client', days: 1, now: Date.now() - 10 * 86_400_000 });
  const other = createCa({ commonName: 'not the gateway CA' });
  const stranger = issueCertificate(other, { commonName: 'ct-scanner-1', usage: 'client' });
  cached = { ca, server, device, revoked, expired, stranger, crlPem: makeCrl(ca, [revoked]) };
  return cached;
}

/** TlsMaterial as loadTlsMaterial would return it, with the CRL. */
export function tlsMaterial(pki: TestPki, server: IssuedCertificate = pki.server): TlsMaterial {
  const ca = new X509Certificate(pki.ca.certPem);
  return {
    cert: Buffer.from(server.certPem), key: Buffer.from(server.keyPem), ca: Buffer.from(pki.ca.certPem), crl: Buffer.from(pki.crlPem),
    serverCert: new X509Certificate(server.certPem), caCerts: [ca], gatewayCa: ca,
  };
}
