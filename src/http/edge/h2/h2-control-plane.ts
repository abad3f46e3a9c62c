// A control-plane request (login, account, viewer files, health) on an HTTP/2 stream: sent to the
// fastify control plane as an HTTP/1.1 request over a new in-process connection (internal-socket.ts),
// the answer relayed back on the stream. The control plane sees the client's address and TLS identity
// as it does for HTTP/1.1 clients.

import { request, type Agent, type IncomingMessage } from 'node:http';
import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { GatewayError } from '../../../errors.js';
import type { ClientFacts } from '../internal-socket.js';
import { ControlPlaneAgents } from './control-plane-agents.js';
import { respondError } from './h2-answer.js';
import type { H2Request } from './h2-request-head.js';

/** Response fields HTTP/2 forbids (RFC 9113 §8.2.2): node's HTTP/1.1 server writes some of them. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * `bodyIdleMs`: a request body silent this long resets the stream (as a stalled body closes an HTTP/1.1 connection).
 * `agent`: the session's keep-alive connections for this client (control-plane-agents.ts); without one, a new connection.
 */
export function serveControlPlane(stream: ServerHttp2Stream, req: H2Request, client: ClientFacts, controlPlane: (server: Duplex) => void, logger: Logger, bodyIdleMs: number, agent?: Agent): void {
  const { head } = req;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of head.headers) {
    if (k === 'content-length') continue;
    const had = headers[k];
    // HTTP/2 clients split Cookie into one field per pair (RFC 9113 §8.2.3); HTTP/1.1 wants one.
    if (k === 'cookie' && typeof had === 'string') headers[k] = `${had}; ${v}`;
    else headers[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  if (req.declaredLength !== undefined) headers['content-length'] = String(req.declaredLength);
  else if (req.hasBody) headers['transfer-encoding'] = 'chunked';
  const up = request({
    method: head.method, path: head.target, headers, setHost: false,
    ...(agent !== undefined ? { agent } : { createConnection: () => ControlPlaneAgents.connect(client, controlPlane) as never }),
  });
  let received = 0;
  let refused = false;
  const fail = (why: string): void => {
    if (refused) return;
    refused = true;
    logger.info({ source: client.remoteAddress, reason: why }, 'malformed HTTP request refused');
    up.destroy();
    respondError(stream, new GatewayError('ERR_BAD_REQUEST', `malformed HTTP request: ${why}`), { status: 400, head: head.method === 'HEAD' });
  };
  up.on('error', (err) => {
    if (stream.destroyed || stream.closed) return;
    if (stream.headersSent) { stream.close(constants.NGHTTP2_INTERNAL_ERROR); return; }
    logger.error({ err: { message: err.message } }, 'control-plane request failed');
    respondError(stream, new GatewayError('ERR_BAD_REQUEST', 'internal error'), { status: 500 });
  });
  up.on('response', (res: IncomingMessage) => {
    if (stream.destroyed || stream.closed) { res.destroy(); return; }
    const out: OutgoingHttpHeaders = { ':status': res.statusCode ?? 502 };
    for (const [k, v] of Object.entries(res.headers)) if (!CONNECTION_SPECIFIC.has(k) && v !== undefined) out[k] = v;
    try {
      stream.respond(out, { endStream: head.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304 });
    } catch (err) {
      logger.error({ err: { message: (err as Error).message } }, 'control-plane answer not relayable over HTTP/2');
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      res.destroy();
      return;
    }
    if (stream.writableEnded) { res.resume(); return; }
    res.pipe(stream);
  });
  stream.once('close', () => { up.destroy(); });
  if (!req.hasBody) { up.end(); return; }
  stream.setTimeout(bodyIdleMs, () => {
    if (stream.readableEnded) return;
    logger.info({ source: client.remoteAddress }, 'request body stalled: HTTP/2 stream reset');
    stream.close(constants.NGHTTP2_CANCEL);
  });
  stream.on('data', (chunk: Buffer) => {
    if (refused) return;
    received += chunk.length;
    if (req.declaredLength !== undefined && received > req.declaredLength) { fail('the DATA frames are longer than the Content-Length'); return; }
    if (!up.write(chunk)) { stream.pause(); up.once('drain', () => stream.resume()); }
  });
  stream.once('end', () => {
    stream.setTimeout(0);
    if (refused) return;
    if (req.declaredLength !== undefined && received !== req.declaredLength) { fail('the DATA frames are shorter than the Content-Length'); return; }
    up.end();
  });
}
