// Builds and signs a version 2 X.509 CRL (RFC 5280 §5) in DER: node-forge has no CRL builder.

import { createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { Tag, oid, smallInteger, time, tlv, unsignedInteger } from './der.js';
import { certificateFields } from './x509-fields.js';

/** CRLReason (RFC 5280 §5.3.1); `unspecified` is written by leaving the extension out, as the RFC asks. */
export const RevocationReason = Object.freeze({
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
} as const);

export type RevocationReasonName = keyof typeof RevocationReason;

export interface CrlEntry {
  /** Serial number, hex. */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason?: RevocationReasonName | undefined;
}

export interface CrlOptions {
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly entries: readonly CrlEntry[];
  /** cRLNumber (RFC 5280 §5.2.3): monotonically increasing. */
  readonly number: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

const OID = Object.freeze({
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  authorityKeyIdentifier: '2.5.29.35',
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
});

function extension(id: string, value: Buffer): Buffer {
  return tlv(Tag.Sequence, oid(id), tlv(Tag.OctetString, value));
}

function entry(e: CrlEntry): Buffer {
  const code = e.reason === undefined ? 0 : RevocationReason[e.reason];
  const hex = e.serial.replace(/[^0-9a-fA-F]/g, '');
  const serial = Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex');
  const exts = code === 0 ? [] : [tlv(Tag.Sequence, extension(OID.reasonCode, tlv(Tag.Enumerated, Buffer.from([code]))))];
  return tlv(Tag.Sequence, unsignedInteger(serial), time(e.revokedAt), ...exts);
}

/**
 * A CRL signed by the CA: version 2, the CA's subject copied byte for byte as issuer (so that
 * OpenSSL matches it to the CA), authorityKeyIdentifier and cRLNumber (RFC 5280 §5.2.1, §5.2.3,
 * both required of conforming issuers), one entry per revoked serial. Returns DER.
 */
export function buildCrl(o: CrlOptions): Buffer {
  const ca = new X509Certificate(o.caCertPem);
  const fields = certificateFields(ca.raw);
  const key = createPrivateKey(o.caKeyPem);
  if (!ca.checkPrivateKey(key)) throw new TypeError('the CA key does not match the CA certificate');
  const rsa = key.asymmetricKeyType === 'rsa';
  if (!rsa && key.asymmetricKeyType !== 'ec') throw new TypeError(`CRL signing supports RSA and EC CA keys, not ${key.asymmetricKeyType}`);
  // AlgorithmIdentifier: RSA takes NULL parameters (RFC 4055 §5), ECDSA none (RFC 5758 §3.2).
  const algorithm = rsa ? tlv(Tag.Sequence, oid(OID.sha256WithRSAEncryption), tlv(Tag.Null)) : tlv(Tag.Sequence, oid(OID.ecdsaWithSha256));
  const exts = [extension(OID.crlNumber, smallInteger(o.number))];
  if (fields.subjectKeyId !== undefined) {
    exts.unshift(extension(OID.authorityKeyIdentifier, tlv(Tag.Sequence, tlv(0x80, fields.subjectKeyId)))); // keyIdentifier [0] IMPLICIT
  }
  const tbs = tlv(Tag.Sequence,
    smallInteger(1), // v2
    algorithm,
    fields.subject,
    time(o.thisUpdate),
    time(o.nextUpdate),
    // RFC 5280 §5.1.2.6: with no revoked certificates the list is absent, not empty.
    ...(o.entries.length === 0 ? [] : [tlv(Tag.Sequence, ...o.entries.map(entry))]),
    tlv(Tag.Context0, tlv(Tag.Sequence, ...exts)),
  );
  const signature = sign('sha256', tbs, key);
  return tlv(Tag.Sequence, tbs, algorithm, tlv(Tag.BitString, Buffer.from([0]), signature));
}
