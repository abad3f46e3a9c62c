// Parses an upstream's HTTP/1.x response head and works out how its body is framed (RFC 9112 §6.3).
//
// As nginx (1.23+): the only transfer coding accepted is a lone "chunked", and never together with
// Content-Length; anything else makes the response malformed (the edge answers 502), because a coding
// the edge does not frame itself would be relayed to a client that may frame it differently.

import { addConnectionOptions, fieldName, fieldValue } from './field-syntax.js';

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** Field names in lower case, values trimmed, in the order received. */
  readonly headers: readonly (readonly [string, string])[];
  /** The options of the Connection fields, lower case. */
  readonly connection: readonly string[];
  /** How the body is delimited: none, a byte count, chunked, or by the upstream closing the connection. */
  readonly body: { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' } | { readonly kind: 'close' };
  /** The upstream keeps the connection open after this response. */
  readonly keepAlive: boolean;
  /**
   * The framing fields, canonical: the one Content-Length value, or `chunked` (the only transfer
   * coding accepted). The edge writes these itself and never relays the upstream's fields as they came.
   */
  readonly framing: { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };
}

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** Parses `buf[0, end)`; `end` is the index of the CRLFCRLF. Returns a reason string when malformed. */
export function parseResponseHead(buf: Buffer, end: number, requestMethod: string): ResponseHead | string {
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (m === null) return 'malformed status line';
  const minor = m[1];
  const status = Number(m[2]);
  const headers: (readonly [string, string])[] = [];
  let length: number | undefined;
  let te = false;
  const connection: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const colon = line.indexOf(':');
    const name = fieldName(line, colon);
    if (name === undefined) return 'malformed header field';
    const value = fieldValue(line, colon);
    if (/[\r\n\0]/.test(value)) return 'invalid header value';
    if (name === 'content-length') {
      if (!/^[0-9]{1,15}$/.test(value)) return 'invalid Content-Length';
      const n = Number(value);
      if (length !== undefined && length !== n) return 'conflicting Content-Length fields';
      length = n;
    } else if (name === 'transfer-encoding') {
      // RFC 9112 §6.1: a repeated field is one list; "chunked, chunked" is as unframeable as "xchunked".
      if (te) return 'repeated Transfer-Encoding';
      if (value.length !== 7 || value.toLowerCase() !== 'chunked') return `unsupported transfer coding "${value.slice(0, 64)}"`;
      te = true;
    } else if (name === 'connection') {
      addConnectionOptions(connection, value);
    }
    headers.push([name, value]);
  }
  if (te && length !== undefined) return 'both Content-Length and Transfer-Encoding';
  if (te && minor === '0') return 'Transfer-Encoding in an HTTP/1.0 response';
  let keepAlive = minor === '1' ? !connection.includes('close') : connection.includes('keep-alive');
  let body: ResponseHead['body'];
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) body = { kind: 'none' };
  else if (te) body = { kind: 'chunked' };
  else if (length !== undefined) body = length === 0 ? { kind: 'none' } : { kind: 'length', length };
  else body = { kind: 'close' };
  if (body.kind === 'close') keepAlive = false;
  const framing: ResponseHead['framing'] = te ? { kind: 'chunked' } : length !== undefined ? { kind: 'length', length } : { kind: 'none' };
  return { status, reason: m[3] ?? '', headers, connection, body, keepAlive, framing };
}
