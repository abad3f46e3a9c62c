// The TLS profile both listeners use: DICOM PS3.15 BCP 195 non-downgrading (TLS 1.2+, AEAD, forward secrecy), no renegotiation.

import { constants } from 'node:crypto';

/**
 * TLS 1.2 suites: ECDHE/DHE key exchange with AES-GCM or ChaCha20-Poly1305 only
 * (BCP 195 / RFC 9325 §4.2, DICOM PS3.15 Annex B.9 "non-downgrading" profile).
 * TLS 1.3 suites are all AEAD and forward-secret.
 */
export const TLS12_CIPHERS = Object.freeze([
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384',
]);

export const TLS13_CIPHERSUITES = Object.freeze([
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
]);

/**
 * Options common to every TLS server the gateway runs: both listeners, and every new context on a
 * certificate hot reload (setSecureContext replaces all context options, so it is given this again).
 * SSL_OP_NO_RENEGOTIATION: a TLS 1.2 client that asks to renegotiate gets a no_renegotiation alert
 * (RFC 5246 §7.2.2); a new handshake could present another certificate after the first one was
 * verified (issue 12 §1). TLS 1.3 has no renegotiation (RFC 8446 §4.1.2).
 */
export const TLS_SERVER_PROFILE = Object.freeze({
  minVersion: 'TLSv1.2' as const,
  maxVersion: 'TLSv1.3' as const,
  ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
  honorCipherOrder: true,
  ecdhCurve: 'X25519:P-256:P-384',
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
});
/** An error code from OpenSSL or node's TLS layer (a TLS alert, a refused renegotiation), as opposed to a reset or timeout. */
export function tlsError(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));
}

