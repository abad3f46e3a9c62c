// One DICOMweb request on an HTTP/2 stream: the same guard as over HTTP/1.1 (pacs-forward.ts), then
// an Exchange between the stream and a pooled HTTP/1.1 connection to the PACS.
//
// A request body always goes to the PACS chunked: its last chunk ("0\r\n\r\n") is written only once
// the stream has ended and the DATA frames added up to the declared Content-Length. A body that is
// longer, shorter or cut off never ends at the PACS: its connection is closed mid-body, so the PACS
// never acts on a request the client did not finish as declared.

import { constants, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { nextRequestId } from '../../../audit/request-id.js';
import { GatewayError } from '../../../errors.js';
import type { PeerIdentity } from '../../../tls/peer-identity.js';
import type { GuardDeps, Mount, Mounted } from '../../dicomweb-guard.js';
import { Exchange, type ExchangeOutcome } from '../exchange.js';
import { admissionRefusal, authInputOfHead, forwardToPacs, guardHead, upstreamError } from '../pacs-forward.js';
import { pacsRequestHead } from '../pacs-headers.js';
import type { UpstreamPool } from '../upstream-pool.js';
import { pacsResponseHeaders, respondError } from './h2-answer.js';
import type { H2Request } from './h2-request-head.js';
import type { PacsSlots } from './pacs-slots.js';

export interface H2DicomwebDeps {
  readonly pools: ReadonlyMap<Mount, UpstreamPool>;
  readonly guard: GuardDeps;
  readonly logger: Logger;
  /** A request body silent this long resets its stream. */
  readonly bodyIdleMs: number;
}

/** The stream's client: its address (after trustProxy), its TLS identity (taken once per connection), and its connection's PACS slots. */
export interface H2Client { readonly address: string; readonly peer: PeerIdentity; readonly slots: PacsSlots }

const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

export async function serveDicomweb(stream: ServerHttp2Stream, req: H2Request, m: Mounted, client: H2Client, deps: H2DicomwebDeps): Promise<void> {
  const { head } = req;
  const isHead = head.method === 'HEAD';
  const bad = admissionRefusal(head);
  if (bad !== undefined) {
    deps.logger.info({ source: client.address, reason: bad.message }, 'malformed HTTP request refused');
    respondError(stream, bad, { status: 400, head: isHead });
    return;
  }
  const requestId = nextRequestId();
  const auth = authInputOfHead(head, client.address, client.peer, requestId);
  const verdict = await guardHead(head, m, auth, deps.guard);
  if (stream.destroyed || stream.closed) { verdict.allowed && verdict.outcome?.end({ kind: 'broken' }); return; }
  if (!verdict.allowed) {
    // The guard's audit event is the log line of a refusal, as over HTTP/1.1.
    respondError(stream, verdict.error, { ...(verdict.status === undefined ? {} : { status: verdict.status }), ...(verdict.headers === undefined ? {} : { headers: verdict.headers }), head: isHead });
    return;
  }
  const pool = deps.pools.get(m.mount);
  if (pool === undefined) throw new TypeError(`no upstream pool for ${m.mount.prefix}`);
  const out = pacsRequestHead(head, m, auth.ip);
  const hasBody = head.body.kind !== 'none';
  let exchange: Exchange | undefined;
  /** Why the request body was refused (its framing did not match what the client declared). */
  let bodyRefusal: string | undefined;
  stream.once('close', () => { exchange?.abort(); });
  const forward = (release: () => void): void => forwardToPacs(pool, hasBody, verdict.outcome, {
    gone: () => stream.destroyed || stream.closed,
    start: (lease, onEnd) => {
      exchange = new Exchange({
        client: stream, upstream: lease.socket, head: out, method: head.method, body: head.body, clientKeepAlive: true,
        outcome: verdict.outcome, clientKeepsBuffers: true,
        responseHead: (res) => {
          // Interim answers (100 Continue) are not relayed: HTTP/2 needs none of them here.
          if (res.status < 200 || stream.destroyed) return '';
          try {
            stream.respond(pacsResponseHeaders(res), { endStream: false });
          } catch (err) {
            // A header HTTP/2 cannot carry (e.g. a repeated single-value field): the stream is reset, the exchange aborted on 'close'.
            deps.logger.warn({ err: { message: (err as Error).message }, requestId }, 'PACS response head not relayable over HTTP/2');
            stream.close(constants.NGHTTP2_INTERNAL_ERROR);
          }
          return '';
        },
        onEnd: (o) => { exchange = undefined; onEnd(o); },
        holdClient: (hold) => { if (hold) stream.pause(); else stream.resume(); },
      });
      if (hasBody) pumpBody(stream, exchange, lease.socket, req.declaredLength, deps.bodyIdleMs, (why) => {
        bodyRefusal = why;
        deps.logger.info({ source: client.address, requestId, reason: why }, 'malformed HTTP request refused');
        exchange?.abort();
      });
    },
    failed: (err) => {
      release();
      deps.logger.warn({ err: { message: err.message, code: (err as { code?: string }).code }, requestId }, 'upstream DICOMweb request failed');
      respondError(stream, upstreamError(err, false), { head: isHead });
    },
    ended: (o: ExchangeOutcome) => {
      release();
      if (bodyRefusal !== undefined) { respondError(stream, new GatewayError('ERR_BAD_REQUEST', `malformed HTTP request: ${bodyRefusal}`), { status: 400, head: isHead }); return; }
      if (o.kind === 'done') { if (!stream.destroyed) stream.end(); return; }
      if (o.kind === 'broken') {
        if (!stream.destroyed && !stream.closed) deps.logger.warn({ err: { message: o.error.message }, requestId }, 'DICOMweb response cut off');
        if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      if (o.badRequest) {
        deps.logger.info({ source: client.address, reason: o.error.message }, 'malformed HTTP request refused');
        respondError(stream, new GatewayError('ERR_BAD_REQUEST', o.error.message), { status: 400, head: isHead });
        return;
      }
      deps.logger.warn({ err: { message: o.error.message, code: (o.error as { code?: string }).code }, requestId }, 'upstream DICOMweb request failed');
      respondError(stream, upstreamError(o.error, o.timeout), { head: isHead });
    },
  });
  client.slots.take(() => {
    let released = false;
    const release = (): void => { if (!released) { released = true; client.slots.release(); } };
    if (stream.destroyed || stream.closed) { release(); verdict.outcome?.end({ kind: 'broken' }); return; }
    stream.once('close', release);
    forward(release);
  });
}

/**
 * Streams the stream's DATA into the exchange as chunks (one write per DATA chunk: size line, bytes,
 * CRLF, corked together), counting them against the declared length; the last chunk goes only after
 * END_STREAM with the count right. `refuse` is told why otherwise.
 */
function pumpBody(stream: ServerHttp2Stream, ex: Exchange, upstream: Socket, declared: number | undefined, idleMs: number, refuse: (why: string) => void): void {
  let received = 0;
  let refused = false;
  const fail = (why: string): void => {
    if (refused) return;
    refused = true;
    stream.off('data', onData);
    refuse(why);
  };
  const onData = (chunk: Buffer): void => {
    if (refused || chunk.length === 0) return;
    received += chunk.length;
    if (declared !== undefined && received > declared) { fail('the DATA frames are longer than the Content-Length'); return; }
    upstream.cork();
    ex.clientData(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'));
    ex.clientData(chunk);
    ex.clientData(CRLF);
    upstream.uncork();
  };
  stream.on('data', onData);
  stream.once('end', () => {
    stream.setTimeout(0);
    if (refused) return;
    if (declared !== undefined && received !== declared) { fail('the DATA frames are shorter than the Content-Length'); return; }
    stream.off('data', onData);
    ex.clientData(LAST_CHUNK);
  });
  // A body that stops arriving: the stream is reset (the exchange is aborted on close).
  stream.setTimeout(idleMs, () => { if (!stream.readableEnded) stream.close(constants.NGHTTP2_CANCEL); });
}
