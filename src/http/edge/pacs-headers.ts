// Header ownership between the client and the PACS: what the gateway drops, sets and never lets
// through, in both directions. The PACS gets the raw path and query byte for byte.
//
// Both heads are built from the parsed, canonical representation (lower-case names, trimmed values,
// framing as numbers), never by copying the bytes that came in: a request carries only allow-listed
// fields, and framing (Content-Length / Transfer-Encoding) is always written by the edge itself, once.

import { upstreamTarget, type Mounted } from '../dicomweb-guard.js';
import { SECURITY_HEADERS } from './error-response.js';
import { headerValue, type RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';

/**
 * The client fields a DICOMweb request may carry to the PACS (PS3.18 §8.4; RFC 9110 content
 * negotiation, conditional and range requests, representation metadata); every other field is
 * dropped. That covers credentials and cookies, hop-by-hop fields, the forwarding fields the gateway
 * writes itself, extension fields, and names with "_": nginx drops those by default, because an
 * upstream that maps "_" to "-" (CGI-style) would read `Content_Length` as framing and take a second
 * request out of the first one's bytes.
 */
export const FORWARDED_REQUEST_FIELDS: ReadonlySet<string> = new Set([
  'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'cache-control', 'pragma',
  'content-type', 'content-encoding', 'content-language',
  'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'range',
  'user-agent', 'date',
]);

/** PACS response headers that are not the client's business (RFC 9110 §7.6.1), that the gateway sets itself, or framing (written canonically). */
const NOT_RETURNED = new Set([
  'set-cookie', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'trailer', 'strict-transport-security', 'x-content-type-options',
  'content-length', 'transfer-encoding',
]);

/** The header fields named in Connection (hop-by-hop by nomination). */
function nominated(head: { readonly connection: readonly string[] }): Set<string> | undefined {
  return head.connection.length === 0 ? undefined : new Set(head.connection);
}

/** The framing fields of the response as the client gets it: one canonical field, none on 1xx and 204 (RFC 9110 §8.6, §6.4.1). */
function responseFraming(res: ResponseHead): string {
  if (res.status < 200 || res.status === 204) return '';
  const f = res.framing;
  return f.kind === 'length' ? `content-length: ${String(f.length)}\r\n` : f.kind === 'chunked' ? 'transfer-encoding: chunked\r\n' : '';
}

/** The PACS's response head as the client gets it. */
export function pacsResponseHead(res: ResponseHead, close: boolean): string {
  const drop = nominated(res);
  let out = `HTTP/1.1 ${String(res.status)} ${res.reason}\r\n`;
  for (const [k, v] of res.headers) {
    if (NOT_RETURNED.has(k) || drop?.has(k) === true) continue;
    out += `${k}: ${v}\r\n`;
  }
  return `${out}${responseFraming(res)}${SECURITY_HEADERS}${close ? 'connection: close\r\n' : ''}\r\n`;
}

/** The request head the PACS gets: upstream path, the client's allow-listed fields, canonical framing, and the gateway's own X-Forwarded-*. */
export function pacsRequestHead(head: RequestHead, m: Mounted, clientIp: string): string {
  const drop = nominated(head);
  let out = `${head.method} ${upstreamTarget(m)} HTTP/1.1\r\nhost: ${m.mount.upstream.host}\r\n`;
  let zeroLength = false;
  for (const [k, v] of head.headers) {
    if (FORWARDED_REQUEST_FIELDS.has(k)) { if (drop?.has(k) !== true) out += `${k}: ${v}\r\n`; }
    else if (k === 'content-length') zeroLength = true;
  }
  const b = head.body;
  // An empty body announced with Content-Length: 0 (or 00) keeps one "content-length: 0" (a POST without it may get 411).
  if (b.kind === 'length') out += `content-length: ${String(b.length)}\r\n`;
  else if (b.kind === 'chunked') out += 'transfer-encoding: chunked\r\n';
  else if (zeroLength) out += 'content-length: 0\r\n';
  const host = headerValue(head, 'host');
  return `${out}x-forwarded-for: ${clientIp}\r\nx-forwarded-proto: https\r\n${host === undefined ? '' : `x-forwarded-host: ${host}\r\n`}\r\n`;
}
