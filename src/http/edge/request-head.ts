// Strict HTTP/1.1 request-head parser (RFC 9112) for the HTTPS edge: anything ambiguous is refused.
//
// Request smuggling lives in the gaps between two parsers' leniencies, so this one has none:
// no obs-fold, no whitespace before a colon, no bare LF, no Content-Length together with
// Transfer-Encoding, no transfer coding other than a lone "chunked", one Host.

import { addConnectionOptions, fieldName, fieldValue } from './field-syntax.js';

/** Largest request head accepted (request line + header fields); beyond it: 431. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Most header fields in one request; beyond it: 431. */
export const MAX_HEADERS = 100;

export interface RequestHead {
  readonly method: string;
  /** The origin-form request target, undecoded: path and query. */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  /** Field names in lower case, values trimmed, in the order received. */
  readonly headers: readonly (readonly [string, string])[];
  /** The options of the Connection fields, lower case (close, keep-alive, names of hop-by-hop fields). */
  readonly connection: readonly string[];
  /** Body framing: a byte count, chunked, or none. */
  readonly body: { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };
  /** The client wants the connection kept open after this exchange. */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` was sent. */
  readonly expectContinue: boolean;
}

export interface HeadRefusal {
  readonly status: 400 | 414 | 431 | 501 | 505;
  readonly reason: string;
}

/** Methods as registered (RFC 9110 §9.1 is case-sensitive): upper-case letters, with inner hyphens. */
const METHOD = /^[A-Z]+(-[A-Z]+)*$/;
/** Field values: visible ASCII, obs-text, space and tab; never CR, LF or NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** origin-form: a path starting with "/" and an optional query; no fragment, no spaces or controls. */
const ORIGIN_FORM = /^\/[\x21\x22\x24-\x7e]*$/;
const MAX_TARGET = 8 * 1024;
/** Fields that decide where a message ends or where it goes. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);

function refuse(status: HeadRefusal['status'], reason: string): HeadRefusal {
  return { status, reason };
}

/** Parses the head in `buf[0, end)` (`end` is the index of the CRLFCRLF that ends it). */
export function parseRequestHead(buf: Buffer, end: number): RequestHead | HeadRefusal {
  const text = buf.toString('latin1', 0, end);
  if (text.includes('\n') && /[^\r]\n|^\n/.test(text)) return refuse(400, 'bare LF in the request head');
  const lines = text.split('\r\n');
  const requestLine = lines[0] ?? '';
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return refuse(400, 'malformed request line');
  const [method = '', target = '', protocol = ''] = parts;
  if (!METHOD.test(method)) return refuse(400, 'malformed method (methods are case-sensitive upper-case tokens)');
  if (protocol !== 'HTTP/1.1' && protocol !== 'HTTP/1.0') {
    return /^HTTP\/\d\.\d$/.test(protocol) ? refuse(505, `${protocol} is not supported`) : refuse(400, 'malformed request line');
  }
  if (target.length > MAX_TARGET) return refuse(414, 'request target too long');
  if (!ORIGIN_FORM.test(target)) return refuse(400, 'the request target must be a path (origin-form)');
  if (lines.length - 1 > MAX_HEADERS) return refuse(431, 'too many header fields');

  const headers: (readonly [string, string])[] = [];
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let hosts = 0;
  const connection: string[] = [];
  let expect: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') return refuse(400, 'empty header line');
    if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) return refuse(400, 'obsolete line folding');
    const colon = line.indexOf(':');
    if (colon <= 0) return refuse(400, 'malformed header field');
    const lower = fieldName(line, colon);
    if (lower === undefined) return refuse(400, 'malformed header field name');
    const value = fieldValue(line, colon);
    if (!FIELD_VALUE.test(value)) return refuse(400, 'invalid character in a header field value');
    switch (lower) {
      case 'content-length': {
        if (!/^[0-9]{1,15}$/.test(value)) return refuse(400, 'invalid Content-Length');
        const n = Number(value);
        if (contentLength !== undefined && contentLength !== n) return refuse(400, 'conflicting Content-Length fields');
        // Even identical copies: forwarded as received, strict parsers (llhttp, nginx) refuse them and Orthanc frames them differently.
        if (contentLength !== undefined) return refuse(400, 'repeated Content-Length');
        contentLength = n;
        break;
      }
      case 'transfer-encoding':
        if (transferEncoding !== undefined) return refuse(400, 'repeated Transfer-Encoding');
        transferEncoding = value.toLowerCase();
        break;
      case 'host':
        hosts++;
        break;
      case 'connection':
        addConnectionOptions(connection, value);
        break;
      case 'expect':
        expect = value.toLowerCase();
        break;
      default:
    }
    headers.push([lower, value]);
  }
  const version = protocol === 'HTTP/1.1' ? '1.1' : '1.0';
  if (version === '1.1' && hosts !== 1) return refuse(400, hosts === 0 ? 'missing Host header' : 'repeated Host header');
  if (hosts > 1) return refuse(400, 'repeated Host header');
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) return refuse(400, 'both Content-Length and Transfer-Encoding');
    if (transferEncoding !== 'chunked') return refuse(501, `transfer coding "${transferEncoding}" is not supported`);
    if (version === '1.0') return refuse(400, 'Transfer-Encoding in an HTTP/1.0 request');
  }
  if (expect !== undefined && expect !== '100-continue') return refuse(400, `unsupported Expect "${expect}"`);
  // A field named in Connection is dropped by the next hop; framing and Host must never be.
  for (const t of connection) if (FRAMING.has(t)) return refuse(400, `Connection must not name ${t}`);
  const keepAlive = version === '1.1' ? !connection.includes('close') : false;
  const body = transferEncoding !== undefined ? { kind: 'chunked' as const }
    : contentLength !== undefined && contentLength > 0 ? { kind: 'length' as const, length: contentLength } : { kind: 'none' as const };
  return { method, target, version, headers, connection, body, keepAlive, expectContinue: expect !== undefined && version === '1.1' };
}

/** True for the refusal branch of parseRequestHead's result. */
export function isRefusal(h: RequestHead | HeadRefusal): h is HeadRefusal {
  return 'status' in h;
}

/** The value of the only (or first) field called `name` (lower case). */
export function headerValue(head: { readonly headers: readonly (readonly [string, string])[] }, name: string): string | undefined {
  for (const [k, v] of head.headers) if (k === name) return v;
  return undefined;
}
