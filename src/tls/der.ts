// Minimal DER (ITU-T X.690) reading and writing for CRLs and certificate fields that must keep their exact bytes.

import { GatewayError } from '../errors.js';

/** DER tags this project reads or writes (X.690 §8, RFC 5280 Appendix A). */
export const Tag = Object.freeze({
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  Oid: 0x06,
  Enumerated: 0x0a,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
  /** [0] constructed, context-specific (explicit tagging). */
  Context0: 0xa0,
  Context1: 0xa1,
  Context3: 0xa3,
} as const);

/** One TLV: where it starts, where its value starts and ends, and its raw bytes. */
export interface Tlv {
  readonly tag: number;
  /** The whole element (header + value). */
  readonly raw: Buffer;
  /** The value only. */
  readonly value: Buffer;
}

/** Longest length field accepted: 4 bytes (4 GiB), far above any certificate or CRL. */
const MAX_LENGTH_BYTES = 4;

function fail(what: string, detail: string): never {
  throw new GatewayError('ERR_CERT_INVALID', `${what}: malformed DER (${detail})`);
}

/** Reads the TLV at `offset` of `buf`, checking every length against the bytes present first. */
export function readTlv(buf: Buffer, offset: number, what: string): Tlv {
  if (offset + 2 > buf.length) fail(what, 'truncated header');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) fail(what, 'high tag numbers are not used here');
  const first = buf[offset + 1] as number;
  let length: number;
  let header: number;
  if (first < 0x80) {
    length = first;
    header = 2;
  } else {
    const n = first & 0x7f;
    if (n === 0 || n > MAX_LENGTH_BYTES) fail(what, n === 0 ? 'indefinite length is not DER' : 'length field too long');
    if (offset + 2 + n > buf.length) fail(what, 'truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[offset + 2 + i] as number);
    // X.690 §10.1: DER encodes a length in the fewest bytes (long form only from 128, no leading zero byte).
    if (length < 0x80 || buf[offset + 2] === 0) fail(what, 'length not in the shortest form');
    header = 2 + n;
  }
  const end = offset + header + length;
  if (end > buf.length) fail(what, `value of ${length} bytes runs past the end`);
  return { tag, raw: buf.subarray(offset, end), value: buf.subarray(offset + header, end) };
}

/** Splits a constructed value into its elements. */
export function children(value: Buffer, what: string): Tlv[] {
  const out: Tlv[] = [];
  let off = 0;
  while (off < value.length) {
    const t = readTlv(value, off, what);
    out.push(t);
    off += t.raw.length;
  }
  return out;
}

/** Reads exactly one TLV spanning the whole buffer, of the expected tag. */
export function readOne(buf: Buffer, tag: number, what: string): Tlv {
  const t = readTlv(buf, 0, what);
  if (t.tag !== tag) fail(what, `expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  if (t.raw.length !== buf.length) fail(what, 'trailing bytes');
  return t;
}

/** Decodes an OID value (X.690 §8.19) to dotted form. */
export function decodeOid(value: Buffer): string {
  const arcs: number[] = [];
  let n = 0;
  for (const b of value) {
    n = n * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
      else arcs.push(n);
      n = 0;
    }
  }
  return arcs.join('.');
}

/** Decodes UTCTime / GeneralizedTime (RFC 5280 §4.1.2.5: Zulu, seconds present). */
export function decodeTime(t: Tlv, what: string): Date {
  const s = t.value.toString('latin1');
  const m = t.tag === Tag.UtcTime ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null || (t.tag !== Tag.UtcTime && t.tag !== Tag.GeneralizedTime)) fail(what, `not a time: ${JSON.stringify(s)}`);
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  // RFC 5280 §4.1.2.5.1: two-digit years 50–99 are 19xx, 00–49 are 20xx.
  const year = t.tag === Tag.UtcTime ? (y >= 50 ? 1900 + y : 2000 + y) : y;
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, se));
  // Date.UTC rolls month 13 or day 0 over into another date; a field out of range is not a time.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || date.getUTCHours() !== h || date.getUTCMinutes() !== mi || date.getUTCSeconds() !== se) {
    fail(what, `not a time: ${JSON.stringify(s)}`);
  }
  return date;
}

// ---- writing -------------------------------------------------------------------------------

/** Encodes a TLV with a DER (shortest form) length. */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const value = Buffer.concat(content);
  const n = value.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, value]);
}

/** A non-negative INTEGER from big-endian bytes (leading zeros trimmed, a 0x00 added before a set top bit). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  const body = trimmed.length === 0 ? Buffer.from([0]) : ((trimmed[0] as number) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return tlv(Tag.Integer, body);
}

/** A small non-negative INTEGER. */
export function smallInteger(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`not a non-negative integer: ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return unsignedInteger(Buffer.from(bytes.length === 0 ? [0] : bytes));
}

/** Encodes a dotted OID (X.690 §8.19). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined || arcs.some((x) => !Number.isSafeInteger(x) || x < 0)) throw new TypeError(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const chunk: number[] = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v % 128));
    out.push(...chunk);
  }
  return tlv(Tag.Oid, Buffer.from(out));
}

/** RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050; always Zulu with seconds. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = d.getUTCFullYear();
  return year < 2050 ? tlv(Tag.UtcTime, Buffer.from(digits.slice(2), 'latin1')) : tlv(Tag.GeneralizedTime, Buffer.from(digits, 'latin1'));
}

/** PEM armour for DER bytes (RFC 7468). */
export function toPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').match(/.{1,64}/g)?.join('\n') ?? '';
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Every PEM block with `label` in `text`, decoded to DER. */
export function fromPem(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}
