// One GET request of the HTTP probe: its own connection (rate-limited), a User-Agent naming the
// scanner, no credentials, a capped body that the caller inspects and drops.

import { request, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { sawPeerCertificate, tlsFailure, tlsOptions, type ConnectFailure } from './connection.js';
import { hostPort, type Endpoint, type ProbeContext } from './context.js';

/** A body larger than this is cut off: enough to recognise a product, never a whole study. */
const MAX_BODY_BYTES = 256 * 1024;

export interface HttpAnswer {
  readonly ok: true;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** At most MAX_BODY_BYTES; the caller must not keep it. */
  readonly body: Buffer;
}

export interface HttpFailed {
  readonly ok: false;
  /** `not-http`: the peer answered with something that is not HTTP; `silent`: connected, no answer. */
  readonly failure: ConnectFailure | 'not-http' | 'silent' | 'closed';
  readonly detail: string;
}

export interface HttpGetOptions {
  readonly tls: boolean;
  /** An already connected socket to send this request on (its rate-limiter slot already taken). */
  readonly socket?: Socket;
}

/** GET `path` with `accept`; never throws. */
export async function httpGet(ep: Endpoint, ctx: ProbeContext, path: string, accept: string, o: HttpGetOptions): Promise<HttpAnswer | HttpFailed> {
  if (o.socket === undefined) await ctx.limiter.take();
  return new Promise((resolve) => {
    let connected = o.socket !== undefined;
    const createConnection = (): Socket => {
      if (o.socket !== undefined) return o.socket;
      const s: Socket = o.tls ? tlsConnect(tlsOptions(ep)) : netConnect({ host: ep.address, port: ep.port });
      // TCP connected: a timeout after this is a silent peer, before it an unanswered connect.
      s.once('connect', () => { connected = true; });
      return s;
    };
    let done = false;
    const finish = (r: HttpAnswer | HttpFailed): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = request({
      method: 'GET', path, createConnection, setHost: false,
      headers: { host: ep.servername === undefined ? hostPort(ep.address, ep.port) : hostPort(ep.servername, ep.port), 'user-agent': ctx.userAgent, accept, connection: 'close' },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
        else finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('end', () => finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', () => finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (code.startsWith('HPE_')) return finish({ ok: false, failure: 'not-http', detail: `not an HTTP answer (${code})` });
      if (code === 'ECONNRESET' && connected) return finish({ ok: false, failure: 'closed', detail: 'the connection closed without an HTTP answer' });
      const f = tlsFailure(err, code.startsWith('ERR_SSL_') && sawPeerCertificate(req.socket as TLSSocket | null));
      finish({ ok: false, failure: f.failure, detail: f.detail });
    });
    const timer = setTimeout(() => finish(connected
      ? { ok: false, failure: 'silent', detail: `no HTTP answer within ${ctx.timeoutMs} ms` }
      : { ok: false, failure: 'timeout', detail: `no answer to connect within ${ctx.timeoutMs} ms` }), ctx.timeoutMs);
    req.end();
  });
}
