// Generates a development CA and server certificate when tls.autoGenerate is on and the files are missing.

import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { atomicWrite } from '../util/atomic-write.js';
import { createCa, issueCertificate } from './issue.js';

export interface DevCertPaths { readonly cert: string; readonly key: string; readonly clientCa: string; readonly caKey: string }

/**
 * Creates whatever is missing of: CA (ca.crt + ca.key beside it) and server certificate for
 * localhost, 127.0.0.1, ::1 and this host's name. Returns the files it wrote.
 */
export function ensureDevCertificates(paths: DevCertPaths): string[] {
  const written: string[] = [];
  let ca: { certPem: string; keyPem: string };
  if (existsSync(paths.clientCa) && existsSync(paths.caKey)) {
    ca = { certPem: readFileSync(paths.clientCa, 'utf8'), keyPem: readFileSync(paths.caKey, 'utf8') };
  } else if (existsSync(paths.clientCa)) {
    ca = { certPem: '', keyPem: '' };
  } else {
    ca = createCa({ commonName: 'pacs-gateway development CA' });
    atomicWrite(paths.caKey, ca.keyPem, 0o600);
    atomicWrite(paths.clientCa, ca.certPem, 0o644);
    written.push(paths.clientCa, paths.caKey);
  }
  if (!existsSync(paths.cert) || !existsSync(paths.key)) {
    if (ca.keyPem === '') return written; // a CA without its key here: cannot sign; the TLS loader reports the missing file
    const server = issueCertificate(ca, {
      commonName: 'localhost', usage: 'server',
      dnsNames: [...new Set(['localhost', hostname()])], ipAddresses: ['127.0.0.1', '::1'],
    });
    atomicWrite(paths.key, server.keyPem, 0o600);
    atomicWrite(paths.cert, server.certPem, 0o644);
    written.push(paths.cert, paths.key);
  }
  return written;
}
