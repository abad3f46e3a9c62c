// Loads and checks the TLS files (server cert + key, client CA bundle, optional CRL) into server options.

import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { GatewayError } from '../errors.js';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  readonly crl?: Buffer;
  /** The server certificate, parsed (serial, validity). */
  readonly serverCert: X509Certificate;
  readonly caCerts: readonly X509Certificate[];
}

export interface TlsPaths { readonly cert: string; readonly key: string; readonly clientCa: string; readonly crl?: string | undefined }

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GatewayError('ERR_CERT_INVALID', `${what} ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Splits a PEM bundle into certificates; throws naming the file when one is not a certificate. */
export function parseCertificates(pem: Buffer, path: string): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new GatewayError('ERR_CERT_INVALID', `${path} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new GatewayError('ERR_CERT_INVALID', `${path} holds a certificate that cannot be parsed: ${(err as Error).message}`, { cause: err });
    }
  });
}

/**
 * Reads the TLS files and checks them: PEM parses, the key matches the certificate, the
 * server certificate is currently valid. Throws ERR_CERT_INVALID saying what is wrong.
 */
export function loadTlsMaterial(paths: TlsPaths, now = Date.now()): TlsMaterial {
  const cert = read(paths.cert, 'tls.cert');
  const key = read(paths.key, 'tls.key');
  const ca = read(paths.clientCa, 'tls.clientCa');
  const crl = paths.crl === undefined ? undefined : read(paths.crl, 'tls.crl');
  const [serverCert] = parseCertificates(cert, paths.cert);
  if (serverCert === undefined) throw new GatewayError('ERR_CERT_INVALID', `${paths.cert} holds no certificate`);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new GatewayError('ERR_CERT_INVALID', `${paths.key} is not a readable PEM private key (encrypted keys are not supported): ${(err as Error).message}`, { cause: err });
  }
  if (!serverCert.checkPrivateKey(privateKey)) {
    throw new GatewayError('ERR_CERT_INVALID', `${paths.key} does not match the certificate in ${paths.cert}`);
  }
  if (Date.parse(serverCert.validTo) <= now) {
    throw new GatewayError('ERR_CERT_INVALID', `${paths.cert} expired on ${serverCert.validTo}; issue a new one (pacs-gateway certs issue-server)`);
  }
  const caCerts = parseCertificates(ca, paths.clientCa);
  if (crl !== undefined && !/-----BEGIN X509 CRL-----/.test(crl.toString('utf8'))) {
    throw new GatewayError('ERR_CERT_INVALID', `${paths.crl} is not a PEM CRL`);
  }
  return { cert, key, ca, ...(crl === undefined ? {} : { crl }), serverCert, caCerts };
}

/** Options for tls.createServer / setSecureContext from loaded material. */
export function secureContextOptions(m: TlsMaterial): { cert: Buffer; key: Buffer; ca: Buffer; crl?: Buffer } {
  return { cert: m.cert, key: m.key, ca: m.ca, ...(m.crl === undefined ? {} : { crl: m.crl }) };
}
