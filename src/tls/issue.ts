// Certificate issuance with node-forge: a small CA, server certificates and device (client) certificates.

import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import * as forgeNs from 'node-forge';

// node-forge is CommonJS: its API is the default export at run time.
const forge = ((forgeNs as unknown as { default?: typeof forgeNs }).default ?? forgeNs) as typeof forgeNs;

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** Hex serial number. */
  readonly serial: string;
  /** SHA-256 fingerprint of the DER certificate, colon-separated upper-case hex (as node reports it). */
  readonly fingerprint256: string;
  readonly notAfter: Date;
}

export interface CaMaterial { readonly certPem: string; readonly keyPem: string }

const DAY_MS = 86_400_000;

/** RSA keys from node's crypto (fast, native); node-forge only builds and signs certificates. */
function rsaKeyPair(bits: number): { privateKey: forgeNs.pki.rsa.PrivateKey; publicKey: forgeNs.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(keyPem) as forgeNs.pki.rsa.PrivateKey;
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e), keyPem };
}

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  if (b[0] === 0) b[0] = 1;
  return b.toString('hex');
}

function finish(cert: forgeNs.pki.Certificate, keyPem: string): IssuedCertificate {
  const certPem = forge.pki.certificateToPem(cert);
  const x = new X509Certificate(certPem);
  return { certPem, keyPem, serial: cert.serialNumber, fingerprint256: x.fingerprint256, notAfter: new Date(x.validTo) };
}

function validity(cert: forgeNs.pki.Certificate, days: number, now: number): void {
  cert.validity.notBefore = new Date(now - 5 * 60_000); // tolerate small clock skew
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

/** A self-signed CA (RSA 3072, pathLen 0: it signs only end-entity certificates). */
export function createCa(options: { commonName: string; days?: number; now?: number }): IssuedCertificate {
  const now = options.now ?? Date.now();
  const keys = rsaKeyPair(3072);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, options.days ?? 3650, now);
  const subject = [{ name: 'commonName', value: options.commonName }, { name: 'organizationName', value: 'pacs-gateway' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return finish(cert, keys.keyPem);
}

export interface LeafOptions {
  readonly commonName: string;
  readonly usage: 'server' | 'client';
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly days?: number;
  readonly now?: number;
}

/** An end-entity certificate (RSA 2048) signed by the CA: serverAuth or clientAuth, with subjectAltName. */
export function issueCertificate(ca: CaMaterial, options: LeafOptions): IssuedCertificate {
  const now = options.now ?? Date.now();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = rsaKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  // CA/B Forum caps server certificates at 398 days; devices default to two years.
  validity(cert, options.days ?? (options.usage === 'server' ? 397 : 730), now);
  cert.setSubject([{ name: 'commonName', value: options.commonName }, { name: 'organizationName', value: 'pacs-gateway' }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: options.usage === 'server', clientAuth: options.usage === 'client' },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return finish(cert, keys.keyPem);
}
