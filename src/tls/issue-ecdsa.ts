// Server certificates with an ECDSA P-256 key, signed by the gateway's CA: built in DER here (der.ts), signed with node's crypto.
//
// node-forge (issue.ts) holds RSA keys only, and node's crypto parses X.509 but cannot issue it.
// The certificate is small and fixed in shape (RFC 5280 §4.1), and this project already writes
// its CRLs the same way (crl-build.ts), so it is built here rather than with @peculiar/x509, which
// needs a global `Reflect` metadata polyfill (tsyringe) loaded into the gateway's process.
// The key is node's own (generateKeyPairSync('ec', P-256)); the CA's key signs (RSA: PKCS#1 v1.5,
// SHA-256, as forge does for the RSA certificate; an EC CA: ECDSA with SHA-256).

import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { Tag, oid, time, tlv, unsignedInteger } from './der.js';
import type { CaMaterial, IssuedCertificate } from './issue.js';
import { certificateFields } from './x509-fields.js';

const DAY_MS = 86_400_000;

const OID = Object.freeze({
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
});

const UTF8_STRING = 0x0c;
const BOOLEAN_TRUE = tlv(0x01, Buffer.from([0xff]));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return tlv(Tag.Sequence, oid(id), ...(critical ? [BOOLEAN_TRUE] : []), tlv(Tag.OctetString, value));
}

function rdn(id: string, value: string): Buffer {
  return tlv(Tag.Set, tlv(Tag.Sequence, oid(id), tlv(UTF8_STRING, Buffer.from(value, 'utf8'))));
}

/** An IP address as subjectAltName iPAddress bytes (RFC 5280 §4.2.1.6: 4 or 16 octets). */
function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  if (isIP(ip) !== 6) throw new TypeError(`not an IP address: ${ip}`);
  const [head = '', tail = ''] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; }));
}

export interface EcdsaServerOptions {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly days?: number;
  readonly now?: number;
}

/** A serverAuth certificate for a new ECDSA P-256 key, signed by the CA; the key as PKCS#8 PEM. */
export function issueEcdsaServerCertificate(ca: CaMaterial, o: EcdsaServerOptions): IssuedCertificate {
  const now = o.now ?? Date.now();
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  const rsa = caKey.asymmetricKeyType === 'rsa';
  if (!rsa && caKey.asymmetricKeyType !== 'ec') throw new TypeError(`the CA key must be RSA or EC, not ${caKey.asymmetricKeyType}`);
  const caFields = certificateFields(caCert.raw);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // subjectKeyIdentifier: SHA-1 of the subjectPublicKey BIT STRING's bytes (RFC 5280 §4.2.1.2 (1)); for
  // P-256 the uncompressed point is the last 65 bytes of the SPKI.
  const ski = createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive, 16 bytes (RFC 5280 §4.1.2.2)
  const algorithm = rsa ? tlv(Tag.Sequence, oid(OID.sha256WithRSAEncryption), tlv(Tag.Null)) : tlv(Tag.Sequence, oid(OID.ecdsaWithSha256));
  const altNames = [
    ...(o.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, 'latin1'))), // dNSName [2] IA5String
    ...(o.ipAddresses ?? []).map((ip) => tlv(0x87, ipBytes(ip))), // iPAddress [7]
  ];
  const extensions = [
    extension(OID.basicConstraints, true, tlv(Tag.Sequence)), // cA FALSE (the default, so empty)
    // digitalSignature only: an ECDSA key signs the handshake, it never decrypts a key exchange (RFC 5480 §3).
    extension(OID.keyUsage, true, tlv(Tag.BitString, Buffer.from([0x07, 0x80]))),
    extension(OID.extKeyUsage, false, tlv(Tag.Sequence, oid(OID.serverAuth))),
    ...(altNames.length > 0 ? [extension(OID.subjectAltName, false, tlv(Tag.Sequence, ...altNames))] : []),
    extension(OID.subjectKeyIdentifier, false, tlv(Tag.OctetString, ski)),
    ...(caFields.subjectKeyId === undefined ? [] : [extension(OID.authorityKeyIdentifier, false, tlv(Tag.Sequence, tlv(0x80, caFields.subjectKeyId)))]),
  ];
  const tbs = tlv(Tag.Sequence,
    tlv(Tag.Context0, tlv(Tag.Integer, Buffer.from([2]))), // version v3
    unsignedInteger(serial),
    algorithm,
    caFields.subject, // the CA's subject byte for byte, so every verifier matches the issuer
    tlv(Tag.Sequence, time(new Date(now - 5 * 60_000)), time(new Date(now + (o.days ?? 397) * DAY_MS))), // skew; CA/B Forum ≤ 398 days
    tlv(Tag.Sequence, rdn(OID.commonName, o.commonName), rdn(OID.organizationName, 'pacs-gateway')),
    spki,
    tlv(Tag.Context3, tlv(Tag.Sequence, ...extensions)),
  );
  const signature = sign('sha256', tbs, caKey);
  const der = tlv(Tag.Sequence, tbs, algorithm, tlv(Tag.BitString, Buffer.concat([Buffer.from([0]), signature])));
  const x = new X509Certificate(der);
  return {
    certPem: x.toString(), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serial: x.serialNumber.toLowerCase(), fingerprint256: x.fingerprint256, notAfter: new Date(x.validTo),
  };
}
