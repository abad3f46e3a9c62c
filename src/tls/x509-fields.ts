// Raw fields of an X.509 certificate that must be compared or copied byte for byte (issuer and subject names).

import { Tag, children, decodeOid, readOne } from './der.js';

export interface CertificateFields {
  /** The subject Name, DER, exactly as in the certificate. */
  readonly subject: Buffer;
  /** The issuer Name, DER. */
  readonly issuer: Buffer;
  /** Serial number, upper-case hex in whole bytes (as node's X509Certificate and OpenSSL print it). */
  readonly serial: string;
  /** The subjectKeyIdentifier extension value (RFC 5280 §4.2.1.2), when present. */
  readonly subjectKeyId: Buffer | undefined;
}

const SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

/** Normalises a hex serial as node and OpenSSL print it: upper case, whole bytes, no leading zero bytes. */
export function normaliseSerial(hex: string): string {
  let s = hex.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  if (s.length % 2 === 1) s = `0${s}`;
  while (s.length > 2 && s.startsWith('00')) s = s.slice(2);
  return s === '' ? '00' : s;
}

/** Reads issuer, subject, serial and subject key identifier from a DER certificate (RFC 5280 §4.1). */
export function certificateFields(der: Buffer): CertificateFields {
  const what = 'certificate';
  const [tbs] = children(readOne(der, Tag.Sequence, what).value, what);
  if (tbs === undefined || tbs.tag !== Tag.Sequence) throw new TypeError('certificate without tbsCertificate');
  const f = children(tbs.value, what);
  const start = f[0]?.tag === Tag.Context0 ? 1 : 0; // version [0] EXPLICIT is optional (v1)
  const serial = f[start];
  const issuer = f[start + 2];
  const subject = f[start + 4];
  if (serial === undefined || issuer === undefined || subject === undefined) throw new TypeError('certificate with a short tbsCertificate');
  let subjectKeyId: Buffer | undefined;
  const ext = f.find((x) => x.tag === Tag.Context3);
  if (ext !== undefined) {
    const [list] = children(ext.value, what);
    for (const e of list === undefined ? [] : children(list.value, what)) {
      const [id, ...rest] = children(e.value, what);
      const value = rest[rest.length - 1];
      if (id?.tag === Tag.Oid && decodeOid(id.value) === SUBJECT_KEY_IDENTIFIER && value !== undefined) {
        subjectKeyId = readOne(value.value, Tag.OctetString, what).value;
      }
    }
  }
  return { subject: subject.raw, issuer: issuer.raw, serial: normaliseSerial(serial.value.toString('hex')), subjectKeyId };
}
