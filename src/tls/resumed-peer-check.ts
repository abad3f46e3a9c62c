// Checks a client certificate again when a TLS session is resumed: chain, validity and CRL as they are now.
//
// A resumed handshake (session ticket, RFC 8446 §2.2 / RFC 5077) does not verify the client's
// certificate again: OpenSSL restores the certificate and the verification result stored in the
// session. With ticket keys that outlive a CRL change (ticket-keys.ts: shared by replicas, kept
// across TLS reloads), a ticket issued before a revocation would otherwise carry the device back
// in. So every resumed connection that presents a certificate is checked here against the TLS
// material in force, with the same error codes OpenSSL would give on a full handshake.

import { X509Certificate } from 'node:crypto';
import { crlSignedBy, type ParsedCrl } from './crl-parse.js';
import type { TlsMaterial } from './material.js';
import { normaliseSerial } from './x509-fields.js';

/** crlSignedBy per CRL and CA: a signature check, done once per loaded CRL rather than per resumption. */
const signedMemo = new WeakMap<ParsedCrl, WeakMap<X509Certificate, boolean>>();

function signedBy(crl: ParsedCrl, ca: X509Certificate): boolean {
  let byCa = signedMemo.get(crl);
  if (byCa === undefined) signedMemo.set(crl, byCa = new WeakMap());
  let signed = byCa.get(ca);
  if (signed === undefined) byCa.set(ca, signed = crlSignedBy(crl, ca));
  return signed;
}

/** Re-verifies a resumed session's client certificate (DER); returns an OpenSSL-style error code, or undefined when it passes. */
export type ResumedCertificateCheck = (der: Buffer) => string | undefined;

/**
 * The check against the material in force. `current` is read on every call, so a CRL or CA
 * bundle swapped in by a reload applies to the next resumption at once.
 */
export function resumedCertificateCheck(current: () => Pick<TlsMaterial, 'caCerts' | 'crls'>, clock: () => number = Date.now): ResumedCertificateCheck {
  return (der) => {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(der);
    } catch {
      return 'CERT_UNREADABLE';
    }
    const now = clock();
    if (Date.parse(leaf.validFrom) > now) return 'CERT_NOT_YET_VALID';
    if (Date.parse(leaf.validTo) <= now) return 'CERT_HAS_EXPIRED';
    const m = current();
    // Only a CA in tls.clientCa that issued the certificate itself: the session keeps the leaf, not
    // the chain the client sent, so a device under an intermediate CA must have it in tls.clientCa.
    const issuer = m.caCerts.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    if (issuer === undefined) return 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
    if (Date.parse(issuer.validTo) <= now) return 'CERT_HAS_EXPIRED';
    if (m.crls !== undefined) {
      const serial = normaliseSerial(leaf.serialNumber);
      // The CRLs this CA signed (material.ts checked every CRL's signer when it was loaded).
      if (m.crls.some((crl) => signedBy(crl, issuer) && crl.entries.some((e) => e.serial === serial))) return 'CERT_REVOKED';
    }
    return undefined;
  };
}

