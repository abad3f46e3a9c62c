// Loads and checks the TLS files (server cert + key, client CA bundle, optional CRL) into server options.

import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { crlAlgorithmSupported, crlSignedBy, parseCrlFile, type ParsedCrl } from './crl-parse.js';
import { fromPem, toPem } from './der.js';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  /** The CRLs, PEM (a DER file is converted). */
  readonly crl?: Buffer;
  /** The server certificate, parsed (serial, validity). */
  readonly serverCert: X509Certificate;
  readonly caCerts: readonly X509Certificate[];
  /**
   * The gateway's own CA (`certs init`): the certificate in tls.clientCa whose key is the CA key
   * beside it. Undefined when that key is absent or matches none (a bundle of other CAs only).
   */
  readonly gatewayCa: X509Certificate | undefined;
  /** The CRLs in `crl`, parsed and checked (issuer in caCerts, signature, nextUpdate). */
  readonly crls?: readonly ParsedCrl[];
  /** The ECDSA P-256 server certificate served beside the RSA one (tls.ecdsa), when there is one. */
  readonly ecdsa?: { readonly cert: Buffer; readonly key: Buffer; readonly serverCert: X509Certificate };
}

export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string;
  readonly crl?: string | undefined;
  /** When false, a missing `crl` file means "no CRL" (the default CRL path); default true. */
  readonly crlRequired?: boolean;
  /** The CA key beside tls.clientCa: read only to tell which certificate in the bundle is the gateway's own CA. */
  readonly caKey?: string;
  /** The ECDSA server certificate and key (tls.ecdsa, or the default pair beside tls.cert). */
  readonly ecdsaCert?: string;
  readonly ecdsaKey?: string;
  /** When false, the ECDSA pair is served only when both files exist (the default pair); default true. */
  readonly ecdsaRequired?: boolean;
}

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
  const crlFile = paths.crl === undefined || (paths.crlRequired === false && !existsSync(paths.crl)) ? undefined : paths.crl;
  const crlData = crlFile === undefined ? undefined : read(crlFile, 'tls.crl');
  const serverCert = checkServerPair(cert, key, paths.cert, paths.key, now);
  const ecdsa = loadEcdsa(paths, now);
  const caCerts = parseCertificates(ca, paths.clientCa);
  const gatewayCa = paths.caKey === undefined ? undefined : gatewayCaOf(caCerts, paths.caKey);
  const ec = ecdsa === undefined ? {} : { ecdsa };
  if (crlData === undefined || crlFile === undefined) return { cert, key, ca, serverCert, caCerts, gatewayCa, ...ec };
  const crls = checkCrls(parseCrlFile(crlData, crlFile), caCerts, crlFile, paths.clientCa, now);
  const crl = Buffer.from(crls.map((c) => toPem(c.der, 'X509 CRL')).join(''));
  return { cert, key, ca, crl, serverCert, caCerts, gatewayCa, crls, ...ec };
}

/** A server certificate and its key: PEM parses, the key matches, the certificate is currently valid. */
function checkServerPair(cert: Buffer, key: Buffer, certPath: string, keyPath: string, now: number): X509Certificate {
  const [serverCert] = parseCertificates(cert, certPath);
  if (serverCert === undefined) throw new GatewayError('ERR_CERT_INVALID', `${certPath} holds no certificate`);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new GatewayError('ERR_CERT_INVALID', `${keyPath} is not a readable PEM private key (encrypted keys are not supported): ${(err as Error).message}`, { cause: err });
  }
  if (!serverCert.checkPrivateKey(privateKey)) {
    throw new GatewayError('ERR_CERT_INVALID', `${keyPath} does not match the certificate in ${certPath}`);
  }
  if (Date.parse(serverCert.validTo) <= now) {
    throw new GatewayError('ERR_CERT_INVALID', `${certPath} expired on ${serverCert.validTo}; issue a new one (pacs-gateway certs issue-server)`);
  }
  return serverCert;
}

/** The ECDSA pair (tls.ecdsa): required when configured, else served when both default files exist. */
function loadEcdsa(paths: TlsPaths, now: number): TlsMaterial['ecdsa'] {
  const { ecdsaCert, ecdsaKey } = paths;
  if (ecdsaCert === undefined || ecdsaKey === undefined) return undefined;
  if (paths.ecdsaRequired === false && !(existsSync(ecdsaCert) && existsSync(ecdsaKey))) return undefined;
  const cert = read(ecdsaCert, 'tls.ecdsa.cert');
  const key = read(ecdsaKey, 'tls.ecdsa.key');
  const serverCert = checkServerPair(cert, key, ecdsaCert, ecdsaKey, now);
  const type = serverCert.publicKey.asymmetricKeyType;
  const curve = serverCert.publicKey.asymmetricKeyDetails?.namedCurve;
  if (type !== 'ec') {
    throw new GatewayError('ERR_CERT_INVALID', `${ecdsaCert} (tls.ecdsa.cert) holds a ${type ?? 'non-EC'} key, not ECDSA: issue one with "pacs-gateway certs issue-server --key-type ecdsa"`);
  }
  if (curve !== 'prime256v1' && curve !== 'secp384r1') {
    throw new GatewayError('ERR_CERT_INVALID', `${ecdsaCert} (tls.ecdsa.cert) uses curve ${curve ?? 'unknown'}: use P-256 (or P-384), which every TLS client supports`);
  }
  return { cert, key, serverCert };
}

/**
 * The certificate in the bundle that the CA key (`certs init`) belongs to. The key is only
 * compared, never kept: the listeners sign nothing. No readable key, no gateway CA.
 */
function gatewayCaOf(caCerts: readonly X509Certificate[], caKey: string): X509Certificate | undefined {
  if (!existsSync(caKey)) return undefined;
  try {
    const privateKey = createPrivateKey(readFileSync(caKey));
    return caCerts.find((c) => c.checkPrivateKey(privateKey));
  } catch {
    return undefined;
  }
}

/**
 * With a CRL loaded node turns on OpenSSL's CRL_CHECK | CRL_CHECK_ALL: every CA in the chain then
 * needs a current CRL, or every client certificate it issued is refused. So refuse, naming the
 * problem, a CRL that no CA here signed, an expired one, and a CA without one.
 */
function checkCrls(crls: ParsedCrl[], caCerts: readonly X509Certificate[], file: string, caFile: string, now: number): ParsedCrl[] {
  crls.forEach((crl, n) => {
    const where = crls.length === 1 ? file : `${file} (CRL #${n + 1})`;
    if (!crlAlgorithmSupported(crl)) {
      throw new GatewayError('ERR_CERT_INVALID', `${where} is signed with an algorithm the gateway cannot check (OID ${crl.signatureAlgorithm}): re-sign it with RSA PKCS#1 v1.5, ECDSA or Ed25519 over SHA-2`);
    }
    if (!caCerts.some((c) => crlSignedBy(crl, c))) {
      throw new GatewayError('ERR_CERT_INVALID', `${where} is not signed by a CA in ${caFile} (wrong CA, or the CA was replaced: re-create it with "pacs-gateway certs revoke" or remove the file)`);
    }
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() <= now) {
      throw new GatewayError('ERR_CERT_INVALID', `${where} expired on ${crl.nextUpdate.toISOString()} (nextUpdate): OpenSSL would refuse every client certificate; issue a fresh CRL`);
    }
  });
  const uncovered = caCerts.filter((c) => !crls.some((crl) => crlSignedBy(crl, c)));
  if (uncovered.length > 0) {
    throw new GatewayError('ERR_CERT_INVALID', `${file} has no CRL for ${uncovered.map((c) => `"${c.subject.replace(/\n/g, ', ')}"`).join(', ')} in ${caFile}: with a CRL configured, every CA in the bundle needs one (add its CRL to the file)`);
  }
  return crls;
}

/** Options for tls.createServer / setSecureContext from loaded material (node reads one CRL per entry). */
/**
 * Options for tls.createServer / setSecureContext from loaded material (node reads one CRL per
 * entry). With an ECDSA pair, `cert` and `key` are lists: OpenSSL keeps one certificate per key
 * type and serves the one the client's signature_algorithms allow (RFC 8446 §4.4.2.2).
 */
export function secureContextOptions(m: TlsMaterial): { cert: Buffer | Buffer[]; key: Buffer | Buffer[]; ca: Buffer; crl?: string[] } {
  const crl = m.crl === undefined ? undefined : fromPem(m.crl.toString('latin1'), 'X509 CRL').map((der) => toPem(der, 'X509 CRL'));
  const pairs = m.ecdsa === undefined ? { cert: m.cert, key: m.key } : { cert: [m.cert, m.ecdsa.cert], key: [m.key, m.ecdsa.key] };
  return { ...pairs, ca: m.ca, ...(crl === undefined ? {} : { crl }) };
}
