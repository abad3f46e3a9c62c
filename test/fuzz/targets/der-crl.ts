// DER and CRL parsing: ERR_CERT_INVALID only; what reads as DER re-encodes to the same bytes; times are real dates.

import { Tag, children, decodeTime, readTlv, time, tlv, type Tlv } from '../../../src/tls/der.js';
import { parseCrlFile } from '../../../src/tls/crl-parse.js';
import { must, type FuzzTarget } from '../engine/target.js';

const DER_DICTIONARY = [
  Buffer.from([0x30, 0x82]), Buffer.from([0x30, 0x81]), Buffer.from([0x30, 0x80]), Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
  Buffer.from([0x02, 0x01, 0x01]), Buffer.from([0x05, 0x00]), Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x15]), Buffer.from([0x0a, 0x01, 0x01]),
  Buffer.from([0xa0, 0x00]), Buffer.from([0x1f]), Buffer.from('170d3939313233313233353935395a', 'hex'), Buffer.from('180f32303530313233313233353935395a', 'hex'),
  Buffer.from('-----BEGIN X509 CRL-----\n'), Buffer.from('\n-----END X509 CRL-----\n'), Buffer.from('991332'), Buffer.from('000229'),
];

/** Walks every TLV (into constructed ones); each must re-encode to its own bytes and times must round-trip. */
function walk(value: Buffer, depth: number): void {
  for (const t of children(value, 'fuzz')) check(t, depth);
}

function check(t: Tlv, depth: number): void {
  must(tlv(t.tag, t.value).equals(t.raw), `TLV with tag 0x${t.tag.toString(16)} is not in DER's shortest length form`);
  if (t.tag === Tag.UtcTime || t.tag === Tag.GeneralizedTime) {
    let d: Date | undefined;
    try { d = decodeTime(t, 'fuzz time'); } catch (err) { if (!(err instanceof Error && 'code' in err)) throw err; }
    if (d !== undefined) {
      must(!Number.isNaN(d.getTime()), 'a time decoded to an invalid Date');
      const again = time(d);
      // time() writes UTCTime before 2050 and GeneralizedTime after; compare only when the form matches.
      if (again[0] === t.tag) must(again.equals(t.raw), `time ${JSON.stringify(t.value.toString('latin1'))} decoded to ${d.toISOString()}`);
    }
  }
  if ((t.tag & 0x20) !== 0 && depth < 32) walk(t.value, depth + 1);
}

export const derTarget: FuzzTarget = {
  name: 'der',
  about: 'src/tls/der.ts readTlv/children/decodeTime: ERR_CERT_INVALID only; every TLV read re-encodes to its own bytes (DER shortest lengths); a time decodes to the date it names',
  files: ['src/tls/der'],
  maxLength: 4096,
  dictionary: DER_DICTIONARY,
  seeds: () => [tlv(Tag.Sequence, tlv(Tag.Integer, Buffer.from([1])), time(new Date(Date.UTC(2030, 0, 2, 3, 4, 5))), time(new Date(Date.UTC(2051, 11, 31, 23, 59, 59))), tlv(Tag.Context0, tlv(Tag.OctetString, Buffer.alloc(200, 7))))],
  run(input) {
    if (input.length === 0) return;
    check(readTlv(input, 0, 'fuzz'), 0);
  },
};

export const crlTarget: FuzzTarget = {
  name: 'crl',
  about: 'src/tls/crl-parse.ts parseCrlFile on PEM or DER files: ERR_CERT_INVALID only (never TypeError/RangeError); entries have hex serials and real revocation dates',
  files: ['src/tls/crl-parse', 'src/tls/der', 'src/tls/x509-fields'],
  maxLength: 8192,
  dictionary: DER_DICTIONARY,
  run(input) {
    for (const crl of parseCrlFile(input, 'fuzz.crl')) {
      must(crl.tbs.length > 0 && crl.der.includes(crl.tbs), 'tbsCertList is not part of the CRL');
      for (const e of crl.entries) {
        must(/^([0-9A-F]{2})*$/.test(e.serial), `serial ${JSON.stringify(e.serial)} is not upper-case hex bytes`);
        must(!Number.isNaN(e.revokedAt.getTime()), 'an invalid revocation date');
      }
      must(!Number.isNaN(crl.thisUpdate.getTime()), 'an invalid thisUpdate');
    }
  },
};
