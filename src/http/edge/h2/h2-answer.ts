// The edge's answers on an HTTP/2 stream: its own refusals (errorAnswer, as over HTTP/1.1) and the
// PACS's response head turned into an HTTP/2 header list.

import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { errorAnswer } from '../../reply-error.js';
import type { ResponseHead } from '../response-head.js';

/** Headers on every answer that leaves the gateway (SECURITY_HEADERS of error-response.ts). */
export const H2_SECURITY_HEADERS: Readonly<Record<string, string>> = { 'strict-transport-security': 'max-age=31536000', 'x-content-type-options': 'nosniff' };

/** Response fields that HTTP/2 forbids (RFC 9113 §8.2.2), that the gateway sets itself, or that are not the client's business. */
const NOT_RETURNED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer', 'te',
  'set-cookie', 'strict-transport-security', 'x-content-type-options', 'content-length',
]);

/** The PACS's response head as HTTP/2 headers: the same fields pacsResponseHead relays, framing canonical. */
export function pacsResponseHeaders(res: ResponseHead): OutgoingHttpHeaders {
  const drop = res.connection.length === 0 ? undefined : new Set(res.connection);
  const out: Record<string, string | string[]> = { ':status': String(res.status) };
  for (const [k, v] of res.headers) {
    if (NOT_RETURNED.has(k) || drop?.has(k) === true) continue;
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  if (res.status >= 200 && res.status !== 204 && res.framing.kind === 'length') out['content-length'] = String(res.framing.length);
  return { ...out, ...H2_SECURITY_HEADERS };
}

/**
 * Answers `err` on the stream (JSON body as errorAnswer says), or resets the stream when an answer
 * has already begun. A request body still arriving is not read: the stream is reset with NO_ERROR
 * once the answer is out (RFC 9113 §8.1).
 */
export function respondError(stream: ServerHttp2Stream, err: unknown, options: { status?: number; headers?: Readonly<Record<string, string>>; head?: boolean } = {}): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) { stream.close(constants.NGHTTP2_INTERNAL_ERROR); return; }
  const a = errorAnswer(err, options.status);
  const body = Buffer.from(JSON.stringify(a.body));
  try {
    stream.respond({
      ':status': a.status, ...a.headers, ...options.headers, ...H2_SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length),
    }, { endStream: options.head === true });
  } catch {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (options.head === true) { stopReading(stream); return; }
  stream.end(body, () => { stopReading(stream); });
}

/** The client may still be sending a body nobody will read: tell it to stop (RST_STREAM NO_ERROR), after the answer. */
export function stopReading(stream: ServerHttp2Stream): void {
  if (!stream.readableEnded && !stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
}
