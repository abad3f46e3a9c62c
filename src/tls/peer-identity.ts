// The client's identity as its TLS handshake established it: one frozen snapshot per connection, read by every guard.
//
// node sets `socket.authorized` once, after the first handshake, while getPeerCertificate() reads
// whatever certificate the session holds now. Reading them later, per request or per association,
// trusted a certificate swapped in after verification (issue 12 §1). The listeners refuse
// renegotiation (profile.ts); this module is the other half: the only place in src/ that asks a
// socket about its peer, once, when the connection is accepted.

import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { AlertName } from '../audit/audit.js';
import type { ResumedCertificateCheck } from './resumed-peer-check.js';

/** The client certificate presented in the handshake. */
export interface PeerCertificateFacts {
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint256: string;
  /** The subject DN on one line (`CN=ct-1, O=…`). */
  readonly subject: string;
  /** The subject's common name, when it has exactly one. */
  readonly subjectCn: string | undefined;
  /** The issuer DN on one line. */
  readonly issuer: string;
  /** Serial number, upper-case hex. */
  readonly serialNumber: string;
  /** notAfter, ISO 8601. */
  readonly notAfter: string | undefined;
}

/** What the handshake established about the client. */
export interface PeerIdentity {
  /** The negotiated protocol, e.g. TLSv1.3. */
  readonly tlsVersion: string | undefined;
  /** The presented client certificate; undefined when none was presented. */
  readonly certificate: PeerCertificateFacts | undefined;
  /** A certificate was presented and OpenSSL verified it: chain to tls.clientCa, validity, CRL. */
  readonly verified: boolean;
  /** Why a presented certificate was not verified: OpenSSL's code, e.g. CERT_REVOKED, CERT_HAS_EXPIRED. */
  readonly verifyError: string | undefined;
  /** The session was resumed from a ticket (no full handshake). */
  readonly resumed?: boolean;
}

/** A peer that presented no certificate (and a connection that is not TLS at all). */
export const NO_PEER_CERTIFICATE: PeerIdentity = Object.freeze({ tlsVersion: undefined, certificate: undefined, verified: false, verifyError: undefined });

/** The certificates' DER, kept out of the frozen facts: read only by issuedBy(). */
const derOf = new WeakMap<PeerCertificateFacts, Buffer>();
/** issuedBy() per certificate, for the CA it was last asked about (a keep-alive client asks on every request). */
const issuedByMemo = new WeakMap<PeerCertificateFacts, { readonly ca: X509Certificate; readonly issued: boolean }>();

/** node reports a verification failure as an OpenSSL code string (typed as Error). */
function verifyCode(e: unknown): string {
  if (typeof e === 'string') return e;
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : (e as Error | null | undefined)?.message ?? 'unknown';
}

function oneLine(name: PeerCertificate['subject'] | undefined): string {
  if (name === undefined || name === null) return '';
  return Object.entries(name as unknown as Record<string, string | string[]>)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`)).join(', ');
}

function isoDate(openssl: string | undefined): string | undefined {
  const ms = openssl === undefined ? Number.NaN : Date.parse(openssl);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * Takes the snapshot. Call it once, when the server accepts the connection ('secureConnection'),
 * and hand the result to everything that decides who the client is. On a resumed session the
 * certificate is checked again with `recheck` (resumed-peer-check.ts): OpenSSL only restores the
 * first handshake's verdict. Without `recheck` a resumed certificate is not trusted at all.
 */
export function snapshotPeer(socket: TLSSocket, recheck?: ResumedCertificateCheck): PeerIdentity {
  const got = socket.getPeerCertificate() as PeerCertificate | Record<string, never> | null;
  // node gives `{}` when no certificate was presented.
  const cert = got !== null && typeof (got as Partial<PeerCertificate>).fingerprint256 === 'string' ? got as PeerCertificate : undefined;
  const tlsVersion = socket.getProtocol() ?? undefined;
  if (cert === undefined) return Object.freeze({ tlsVersion, certificate: undefined, verified: false, verifyError: undefined });
  const cn = (cert.subject as unknown as Record<string, unknown> | undefined)?.['CN'];
  const facts: PeerCertificateFacts = Object.freeze({
    fingerprint256: cert.fingerprint256,
    subject: oneLine(cert.subject),
    subjectCn: typeof cn === 'string' ? cn : undefined,
    issuer: oneLine(cert.issuer),
    serialNumber: cert.serialNumber.toUpperCase(),
    notAfter: isoDate(cert.valid_to),
  });
  derOf.set(facts, cert.raw);
  if (socket.isSessionReused()) {
    const stored = socket.authorized ? undefined : verifyCode(socket.authorizationError);
    const error = stored ?? (recheck === undefined ? 'RESUMED_SESSION_NOT_RECHECKED' : recheck(cert.raw));
    return Object.freeze({ tlsVersion, certificate: facts, verified: error === undefined, verifyError: error, resumed: true });
  }
  const verified = socket.authorized;
  return Object.freeze({ tlsVersion, certificate: facts, verified, verifyError: verified ? undefined : verifyCode(socket.authorizationError) });
}

/**
 * Whether `ca` issued the certificate itself: the certificate names `ca` as its issuer and `ca`'s
 * key verifies its signature (RFC 5280 §6.1.3). Says nothing about validity or revocation, which
 * `verified` covers.
 */
export function issuedBy(cert: PeerCertificateFacts, ca: X509Certificate): boolean {
  const memo = issuedByMemo.get(cert);
  if (memo !== undefined && memo.ca === ca) return memo.issued;
  const der = derOf.get(cert);
  let issued = false;
  if (der !== undefined) {
    try {
      const leaf = new X509Certificate(der);
      issued = leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
    } catch {
      issued = false;
    }
  }
  issuedByMemo.set(cert, { ca, issued });
  return issued;
}

/** Verification failures that deserve an operator's attention, not just a refusal. */
const ALERTS: ReadonlyMap<string, AlertName> = new Map([
  ['CERT_REVOKED', 'cert.revoked-presented'],
  ['CERT_HAS_EXPIRED', 'cert.expired-presented'],
]);

/** The alert a verification failure raises, if any. */
export function verificationAlert(verifyError: string | undefined): AlertName | undefined {
  return verifyError === undefined ? undefined : ALERTS.get(verifyError);
}
