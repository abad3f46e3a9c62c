// An HTTP/2 request's header block as the edge's HTTP/1.1 RequestHead, through the same strict parser.
//
// The pseudo-headers become the request line and Host, the regular fields follow as they came, and
// parseRequestHead (request-head.ts) judges the result: one parser decides what a request is, over
// either protocol (431 beyond the header list size as well). What HTTP/2 adds is checked first (RFC 9113 §8.2–8.3): connection-specific fields,
// TE other than "trailers", pseudo-headers missing, repeated, unknown or after a regular field,
// :scheme other than https, CONNECT, an asterisk or absolute-form :path, :authority and Host that
// disagree. nghttp2 refuses most of these before the edge sees them; the edge does not rely on it.

import { parseRequestHead, isRefusal, type HeadRefusal, type RequestHead } from '../request-head.js';

/** Fields that belong to one HTTP/1.1 connection and make an HTTP/2 message malformed (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** A value that could end a line of the HTTP/1.1 head built from it. */
const LINE_BREAK = /[\r\n\0]/;
const PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);

/** An HTTP/2 request, as HTTP/1.1 would have carried it, and how its body is declared. */
export interface H2Request {
  readonly head: RequestHead;
  /** The Content-Length the client declared, if any: the DATA frames must add up to it. */
  readonly declaredLength: number | undefined;
  /** The request has DATA frames to come (END_STREAM was not on the HEADERS). */
  readonly hasBody: boolean;
}

function refuse(status: HeadRefusal['status'], reason: string): HeadRefusal {
  return { status, reason };
}

/**
 * Parses the header list of an HTTP/2 request (`raw`: name, value, name, value… as received;
 * `endStream`: the HEADERS frame ended the stream). Request bodies go to the PACS chunked (see
 * h2-dicomweb.ts), so the head's body is `chunked` when DATA may follow, `none` otherwise.
 */
export function h2RequestHead(raw: readonly string[], endStream: boolean, maxHeaderListSize: number): H2Request | HeadRefusal {
  // RFC 9113 §6.5.2: each field counts its name, value and 32 bytes. nghttp2 advertises the limit; the edge enforces it.
  let size = 0;
  for (let i = 0; i < raw.length; i++) size += (raw[i] as string).length + (i % 2 === 1 ? 32 : 0);
  if (size > maxHeaderListSize) return refuse(431, 'the header list is too large');
  const pseudo = new Map<string, string>();
  let host: string | undefined;
  let lines = '';
  let regular = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (LINE_BREAK.test(value) || LINE_BREAK.test(name)) return refuse(400, 'invalid character in a header field');
    if (name.startsWith(':')) {
      if (regular) return refuse(400, 'pseudo-header after a regular header field');
      if (!PSEUDO.has(name)) return refuse(400, `unknown pseudo-header ${name.slice(0, 32)}`);
      if (pseudo.has(name)) return refuse(400, `repeated ${name}`);
      pseudo.set(name, value);
      continue;
    }
    regular = true;
    if (name !== name.toLowerCase()) return refuse(400, 'upper-case header field name');
    if (CONNECTION_SPECIFIC.has(name)) return refuse(400, `connection-specific header field ${name} in an HTTP/2 request`);
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') return refuse(400, 'TE other than "trailers" in an HTTP/2 request');
    if (name === 'te') continue;
    if (name === 'host') {
      if (host !== undefined) return refuse(400, 'repeated Host header');
      host = value;
      continue;
    }
    lines += `${name}: ${value}\r\n`;
  }
  const method = pseudo.get(':method');
  if (method === undefined) return refuse(400, 'missing :method');
  if (method === 'CONNECT') return refuse(400, 'CONNECT is not served');
  const path = pseudo.get(':path');
  if (path === undefined || path === '') return refuse(400, 'missing :path');
  const scheme = pseudo.get(':scheme');
  if (scheme !== 'https') return refuse(400, scheme === undefined ? 'missing :scheme' : ':scheme must be https');
  const authority = pseudo.get(':authority');
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase()) return refuse(400, ':authority and Host disagree');
  const target = authority ?? host;
  if (target === undefined || target === '') return refuse(400, 'missing :authority');
  if (authority !== undefined && /[@/\\?#\s]/.test(authority)) return refuse(400, 'malformed :authority');
  const text = `${method} ${path} HTTP/1.1\r\nhost: ${target}\r\n${lines}\r\n`;
  const buf = Buffer.from(text, 'latin1');
  const parsed = parseRequestHead(buf, buf.length - 4);
  if (isRefusal(parsed)) return parsed;
  const declaredLength = parsed.body.kind === 'length' ? parsed.body.length : hasZeroLength(parsed) ? 0 : undefined;
  if (endStream && declaredLength !== undefined && declaredLength > 0) return refuse(400, 'Content-Length does not match the DATA frames (none were sent)');
  const head: RequestHead = {
    ...parsed,
    body: endStream || declaredLength === 0 ? { kind: 'none' } : { kind: 'chunked' },
    keepAlive: true,
    expectContinue: false,
    connection: [],
  };
  return { head, declaredLength, hasBody: !endStream };
}

function hasZeroLength(h: RequestHead): boolean {
  for (const [k] of h.headers) if (k === 'content-length') return true;
  return false;
}
