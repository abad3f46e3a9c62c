// Parses and verifies an X.509 CRL (RFC 5280 §5) so a bad or foreign CRL is refused before OpenSSL sees it.

import { verify, type X509Certificate } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { Tag, children, decodeOid, decodeTime, fromPem, readOne, type Tlv } from './der.js';
import { RevocationReason, type RevocationReasonName } from './crl-build.js';
import { certificateFields, normaliseSerial } from './x509-fields.js';

export interface ParsedCrlEntry {
  /** Upper-case hex in whole bytes (normaliseSerial). */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason?: RevocationReasonName;
}

export interface ParsedCrl {
  /** DER of the whole CRL. */
  readonly der: Buffer;
  /** DER of tbsCertList, exactly as signed. */
  readonly tbs: Buffer;
  /** DER of the issuer Name. */
  readonly issuer: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: readonly ParsedCrlEntry[];
  /** cRLNumber, when present. */
  readonly number: number | undefined;
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
}

const CRL_NUMBER = '2.5.29.20';
const REASON_CODE = '2.5.29.21';
const REASON_NAMES = new Map<number, RevocationReasonName>(Object.entries(RevocationReason).map(([k, v]) => [v, k as RevocationReasonName]));

/** Signature algorithms node can check, by OID (RFC 4055, RFC 5758, RFC 8410). */
const HASH_OF: Readonly<Record<string, string | null>> = Object.freeze({
  '1.2.840.113549.1.1.5': 'sha1', '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null, '1.3.101.113': null,
});

function extensions(list: Tlv | undefined, what: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (list === undefined) return out;
  for (const e of children(list.value, what)) {
    const [id, ...rest] = children(e.value, what);
    const value = rest[rest.length - 1];
    if (id?.tag === Tag.Oid && value?.tag === Tag.OctetString) out.set(decodeOid(id.value), value.value);
  }
  return out;
}

function integer(value: Buffer): number {
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** Parses one DER CRL. Throws ERR_CERT_INVALID naming `what` when it is not one. */
export function parseCrl(der: Buffer, what = 'CRL'): ParsedCrl {
  const top = children(readOne(der, Tag.Sequence, what).value, what);
  const [tbs, alg, sig] = top;
  if (tbs?.tag !== Tag.Sequence || alg?.tag !== Tag.Sequence || sig?.tag !== Tag.BitString || top.length !== 3) {
    throw new GatewayError('ERR_CERT_INVALID', `${what}: not an X.509 CRL (expected tbsCertList, signatureAlgorithm, signature)`);
  }
  const f = children(tbs.value, what);
  let i = f[0]?.tag === Tag.Integer ? 1 : 0; // version is optional (v1)
  i++; // signature AlgorithmIdentifier (repeated in the outer structure)
  const issuer = f[i++];
  const thisUpdate = f[i++];
  if (issuer?.tag !== Tag.Sequence || thisUpdate === undefined) throw new GatewayError('ERR_CERT_INVALID', `${what}: tbsCertList lacks issuer or thisUpdate`);
  let nextUpdate: Date | undefined;
  const maybeNext = f[i];
  if (maybeNext?.tag === Tag.UtcTime || maybeNext?.tag === Tag.GeneralizedTime) {
    nextUpdate = decodeTime(maybeNext, `${what} nextUpdate`);
    i++;
  }
  const entries: ParsedCrlEntry[] = [];
  if (f[i]?.tag === Tag.Sequence) {
    for (const e of children((f[i] as Tlv).value, what)) {
      const [serial, date, exts] = children(e.value, what);
      if (serial?.tag !== Tag.Integer || date === undefined) throw new GatewayError('ERR_CERT_INVALID', `${what}: a revoked-certificate entry lacks serial or date`);
      const reasonValue = extensions(exts, what).get(REASON_CODE);
      const reason = reasonValue === undefined ? undefined : REASON_NAMES.get(readOne(reasonValue, Tag.Enumerated, what).value[0] ?? 0);
      entries.push({ serial: normaliseSerial(serial.value.toString('hex')), revokedAt: decodeTime(date, `${what} revocationDate`), ...(reason === undefined ? {} : { reason }) });
    }
    i++;
  }
  const crlExts = f[i]?.tag === Tag.Context0 ? children((f[i] as Tlv).value, what)[0] : undefined;
  const numberValue = extensions(crlExts, what).get(CRL_NUMBER);
  const [algOid] = children(alg.value, what);
  if (algOid?.tag !== Tag.Oid) throw new GatewayError('ERR_CERT_INVALID', `${what}: signatureAlgorithm without an OID`);
  if (sig.value[0] !== 0) throw new GatewayError('ERR_CERT_INVALID', `${what}: signature BIT STRING has unused bits`);
  return {
    der, tbs: tbs.raw, issuer: issuer.raw,
    thisUpdate: decodeTime(thisUpdate, `${what} thisUpdate`), nextUpdate, entries,
    number: numberValue === undefined ? undefined : integer(readOne(numberValue, Tag.Integer, what).value),
    signatureAlgorithm: decodeOid(algOid.value), signature: sig.value.subarray(1),
  };
}

/** Every CRL in a file: PEM blocks (`X509 CRL`), or one DER CRL. */
export function parseCrlFile(data: Buffer, file: string): ParsedCrl[] {
  const text = data.toString('latin1');
  if (text.includes('-----BEGIN X509 CRL-----')) return fromPem(text, 'X509 CRL').map((der, n) => parseCrl(der, `${file} (CRL #${n + 1})`));
  if (data[0] === Tag.Sequence) return [parseCrl(data, file)];
  throw new GatewayError('ERR_CERT_INVALID', `${file} holds no CRL (expected PEM "-----BEGIN X509 CRL-----" or DER)`);
}

/** Whether crlSignedBy can check the CRL's signature algorithm. */
export function crlAlgorithmSupported(crl: ParsedCrl): boolean {
  return Object.hasOwn(HASH_OF, crl.signatureAlgorithm);
}

/**
 * Whether `crl` was issued and signed by `ca`: the issuer name matches the CA's subject byte
 * for byte and the signature verifies with the CA's key. A signature algorithm this gateway
 * cannot check (e.g. RSASSA-PSS, see crlAlgorithmSupported) is not a signature: false.
 */
export function crlSignedBy(crl: ParsedCrl, ca: X509Certificate): boolean {
  if (!certificateFields(ca.raw).subject.equals(crl.issuer)) return false;
  if (!crlAlgorithmSupported(crl)) return false;
  const hash = HASH_OF[crl.signatureAlgorithm] ?? null;
  try {
    return verify(hash, crl.tbs, ca.publicKey, crl.signature);
  } catch {
    return false;
  }
}
