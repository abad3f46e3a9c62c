// A password-protected PKCS#12 bundle (key, certificate, CA) for devices that import one, built with node-forge.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import * as forgeNs from 'node-forge';
import { GatewayError } from '../errors.js';
import { Tag, oid, readOne, smallInteger, tlv } from './der.js';

// node-forge is CommonJS: its API is the default export at run time.
const forge = ((forgeNs as unknown as { default?: typeof forgeNs }).default ?? forgeNs) as typeof forgeNs;

/**
 * - `modern`: key bag PBES2 = PBKDF2-HMAC-SHA256 + AES-256-CBC, MAC HMAC-SHA256 (what OpenSSL 3
 *   writes by default; read by OpenSSL 1.1+, Java 8u301+, Windows 10 1709+, macOS 10.15+).
 * - `legacy`: pbeWithSHAAnd3-KeyTripleDES-CBC, MAC HMAC-SHA1, for devices whose importer is older.
 */
export type Pkcs12Profile = 'modern' | 'legacy';

export interface Pkcs12Options {
  readonly keyPem: string;
  readonly certPem: string;
  /** The issuing CA, included so that the device can also trust it for the gateway's server certificate. */
  readonly caPem?: string;
  readonly password: string;
  readonly friendlyName?: string;
  readonly profile?: Pkcs12Profile;
}

/** PBKDF2 / PKCS#12-KDF iterations: forge's PBKDF2 is pure JavaScript, so ~1 s here; OpenSSL's default is 2048. */
export const PKCS12_ITERATIONS = 50_000;
const LEGACY_ITERATIONS = 2048;
const SHA256 = '2.16.840.1.101.3.4.2.1';

/** A random password for a bundle: 128 bits, base64url (22 characters, safe to type and paste). */
export function generateBundlePassword(): string {
  return randomBytes(16).toString('base64url');
}

/** Passwords must be printable ASCII so every importer derives the same key from them. */
export function checkBundlePassword(password: string): void {
  if (!/^[\x20-\x7e]{8,128}$/.test(password)) {
    throw new GatewayError('ERR_USAGE', 'the PKCS#12 password must be 8–128 printable ASCII characters');
  }
}

/**
 * The PKCS#12 key derivation function (RFC 7292 Appendix B.2) with SHA-256: u = 32, v = 64.
 * `id` 3 derives MAC keys.
 */
export function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const u = 32;
  const v = 64;
  // B.1: the password as a BMPString (UTF-16BE) with two zero bytes at the end.
  const pw = Buffer.alloc((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) pw.writeUInt16BE(password.charCodeAt(i), i * 2);
  const fill = (src: Buffer): Buffer => {
    const n = v * Math.ceil(src.length / v);
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = src[i % src.length] as number;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([salt.length === 0 ? Buffer.alloc(0) : fill(salt), fill(pw)]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A = createHash('sha256').update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash('sha256').update(A).digest();
    out.push(A);
    const B = fill(A);
    // Ij = (Ij + B + 1) mod 2^(v·8) for every v-byte block of I.
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (I[j + k] as number) + (B[k] as number) + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, length);
}

/** Builds the PFX (DER). */
export function buildPkcs12(o: Pkcs12Options): Buffer {
  checkBundlePassword(o.password);
  const profile = o.profile ?? 'modern';
  const key = forge.pki.privateKeyFromPem(o.keyPem);
  const chain = [o.certPem, ...(o.caPem === undefined ? [] : [o.caPem])].map((p) => forge.pki.certificateFromPem(p));
  const base = { ...(o.friendlyName === undefined ? {} : { friendlyName: o.friendlyName }), generateLocalKeyId: true };
  if (profile === 'legacy') {
    const asn1 = forge.pkcs12.toPkcs12Asn1(key, chain, o.password, { ...base, algorithm: '3des', count: LEGACY_ITERATIONS, useMac: true });
    return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
  }
  // forge encrypts the key with PBES2 (prfAlgorithm is a forge option the typings lack) but MACs only
  // with HMAC-SHA1; so build without a MAC and add an HMAC-SHA256 MacData (RFC 7292 §4, RFC 9579 §6).
  const options = { ...base, algorithm: 'aes256', prfAlgorithm: 'sha256', count: PKCS12_ITERATIONS, useMac: false } as Parameters<typeof forge.pkcs12.toPkcs12Asn1>[3];
  const pfx = forge.pkcs12.toPkcs12Asn1(key, chain, o.password, options);
  const authSafe = ((pfx.value as forgeNs.asn1.Asn1[])[1]?.value as forgeNs.asn1.Asn1[])[1]?.value as forgeNs.asn1.Asn1[] | undefined;
  const content = authSafe?.[0]?.value;
  if (typeof content !== 'string') throw new TypeError('unexpected PFX structure from node-forge');
  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(o.password, salt, 3, PKCS12_ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(Buffer.from(content, 'binary')).digest();
  const macData = tlv(Tag.Sequence,
    tlv(Tag.Sequence, tlv(Tag.Sequence, oid(SHA256), tlv(Tag.Null)), tlv(Tag.OctetString, mac)),
    tlv(Tag.OctetString, salt),
    smallInteger(PKCS12_ITERATIONS));
  // PFX ::= SEQUENCE { version, authSafe, macData }: append macData inside the outer SEQUENCE.
  const inner = readOne(Buffer.from(forge.asn1.toDer(pfx).getBytes(), 'binary'), Tag.Sequence, 'PFX').value;
  return tlv(Tag.Sequence, inner, macData);
}
