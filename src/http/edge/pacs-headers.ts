// Header ownership between the client and the PACS: what the gateway drops, sets and never lets
// through, in both directions. The PACS gets the raw path and query byte for byte.

import { upstreamTarget, type Mounted } from '../dicomweb-guard.js';
import { SECURITY_HEADERS } from './error-response.js';
import { headerValue, type RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';

/** Client headers the gateway owns or that concern only one hop: never passed to the PACS. */
const NOT_FORWARDED = new Set([
  'authorization', 'cookie', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip',
  'proxy-authorization', 'connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'expect', 'host', 'trailer',
]);
/** PACS response headers that are not the client's business (RFC 9110 §7.6.1), or that the gateway sets itself. */
const NOT_RETURNED = new Set([
  'set-cookie', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'trailer', 'strict-transport-security', 'x-content-type-options',
]);

/** Fields that frame a message: never dropped because Connection names them (the request parser refuses that outright). */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

/** The header fields named in Connection (hop-by-hop by nomination), framing fields excepted. */
function nominated(head: { readonly connection: readonly string[] }): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (const name of head.connection) if (!FRAMING.has(name)) (out ??= new Set()).add(name);
  return out;
}

/** The PACS's response head as the client gets it. */
export function pacsResponseHead(res: ResponseHead, close: boolean): string {
  const drop = nominated(res);
  let out = `HTTP/1.1 ${String(res.status)} ${res.reason}\r\n`;
  for (const [k, v] of res.headers) {
    if (NOT_RETURNED.has(k) || drop?.has(k) === true || (k === 'content-length' && res.transferEncoding)) continue;
    out += `${k}: ${v}\r\n`;
  }
  return `${out}${SECURITY_HEADERS}${close ? 'connection: close\r\n' : ''}\r\n`;
}

/** The request head the PACS gets: upstream path, the client's end-to-end headers, and the gateway's own X-Forwarded-*. */
export function pacsRequestHead(head: RequestHead, m: Mounted, clientIp: string): string {
  const drop = nominated(head);
  let out = `${head.method} ${upstreamTarget(m)} HTTP/1.1\r\nhost: ${m.mount.upstream.host}\r\n`;
  for (const [k, v] of head.headers) if (!NOT_FORWARDED.has(k) && drop?.has(k) !== true) out += `${k}: ${v}\r\n`;
  const host = headerValue(head, 'host');
  return `${out}x-forwarded-for: ${clientIp}\r\nx-forwarded-proto: https\r\n${host === undefined ? '' : `x-forwarded-host: ${host}\r\n`}\r\n`;
}
