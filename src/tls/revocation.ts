// The CA's CRL file: read which serials are revoked, add revocations, re-sign (certs revoke / renew).

import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { atomicWrite } from '../util/atomic-write.js';
import { buildCrl, type CrlEntry, type RevocationReasonName } from './crl-build.js';
import { crlSignedBy, parseCrlFile, type ParsedCrl } from './crl-parse.js';
import { toPem } from './der.js';
import type { CaMaterial } from './issue.js';
import type { TlsFilePaths } from './tls-paths.js';
import { normaliseSerial } from './x509-fields.js';

type Ca = CaMaterial & { readonly cert: X509Certificate };

/** thisUpdate is set this far back, so a gateway whose clock is slightly behind does not see a CRL "not yet valid". */
const SKEW_MS = 5 * 60_000;

function readCrls(file: string): ParsedCrl[] {
  return existsSync(file) ? parseCrlFile(readFileSync(file), file) : [];
}

/** The CA's current CRL in the file, if any (other CAs' CRLs in the same file are ignored). */
export function currentCrl(paths: Pick<TlsFilePaths, 'crl'>, caCert: X509Certificate): ParsedCrl | undefined {
  return readCrls(paths.crl).find((c) => crlSignedBy(c, caCert));
}

/** Serials (normalised hex) revoked by the CA's CRL. */
export function revokedSerials(paths: Pick<TlsFilePaths, 'crl'>, caCert: X509Certificate): Set<string> {
  return new Set(currentCrl(paths, caCert)?.entries.map((e) => e.serial) ?? []);
}

/**
 * Writes the CA's CRL with `entries` (PEM, mode 0644, atomically), keeping other CAs' CRLs in the
 * file. nextUpdate is the CA's own expiry: the file is read only by this gateway, never
 * distributed, so a short nextUpdate would protect nothing and an expired CRL would make OpenSSL
 * refuse every device. cRLNumber goes up by one each time.
 */
export function writeCrl(paths: Pick<TlsFilePaths, 'crl'>, ca: Ca, entries: readonly CrlEntry[], now = Date.now()): ParsedCrl {
  const all = readCrls(paths.crl);
  const mine = all.find((c) => crlSignedBy(c, ca.cert));
  const others = all.filter((c) => c !== mine);
  const der = buildCrl({
    caCertPem: ca.certPem, caKeyPem: ca.keyPem, entries,
    number: (mine?.number ?? 0) + 1,
    thisUpdate: new Date(now - SKEW_MS), nextUpdate: new Date(ca.cert.validTo),
  });
  atomicWrite(paths.crl, [...others.map((c) => c.der), der].map((d) => toPem(d, 'X509 CRL')).join(''), 0o644);
  const [written] = parseCrlFile(Buffer.from(toPem(der, 'X509 CRL')), paths.crl);
  return written as ParsedCrl;
}

/**
 * Adds serials to the CA's CRL (those already there keep their original date and reason).
 * Returns the serials newly revoked.
 */
export function revokeSerials(paths: Pick<TlsFilePaths, 'crl'>, ca: Ca, serials: readonly string[], reason?: RevocationReasonName, now = Date.now()): string[] {
  const mine = currentCrl(paths, ca.cert);
  const entries: CrlEntry[] = [...(mine?.entries ?? [])];
  const known = new Set(entries.map((e) => e.serial));
  const added = [...new Set(serials.map(normaliseSerial))].filter((s) => !known.has(s));
  for (const serial of added) entries.push({ serial, revokedAt: new Date(now), reason });
  if (added.length > 0 || mine === undefined) writeCrl(paths, ca, entries, now);
  return added;
}
