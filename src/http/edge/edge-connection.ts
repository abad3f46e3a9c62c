// One client connection on the HTTPS edge: reads request heads, guards DICOMweb requests and forwards
// them to the PACS, hands every other request to the control plane (login, health), one at a time.

import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import { clientAddress } from '../client-address.js';
import { canonicalAddress } from '../../util/address-key.js';
import { nextRequestId } from '../../audit/request-id.js';
import { mountOf, type GuardDeps, type Mount, type Mounted } from '../dicomweb-guard.js';
import { admissionRefusal, authInputOfHead, forwardToPacs, guardHead, upstreamError } from './pacs-forward.js';
import type { RequestOutcome } from '../request-outcome.js';
import { errorResponse } from './error-response.js';
import { Exchange, type ExchangeOutcome } from './exchange.js';
import { internalConnection } from './internal-socket.js';
import { pacsRequestHead, pacsResponseHead } from './pacs-headers.js';
import { isRefusal, MAX_HEAD_BYTES, parseRequestHead, type RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';
import type { UpstreamPool } from './upstream-pool.js';
import { readChunks } from '../../util/socket-read.js';
import { snapshotPeer, type PeerIdentity } from '../../tls/peer-identity.js';
import type { ResumedCertificateCheck } from '../../tls/resumed-peer-check.js';
import { tlsError } from '../../tls/profile.js';
import { h1ViewerHead, viewerFileAnswer, viewerRequest, type ViewerFiles, type ViewerRequest } from './viewer-files.js';

export interface EdgeContext {
  readonly mounts: readonly Mount[];
  readonly pools: ReadonlyMap<Mount, UpstreamPool>;
  readonly guard: GuardDeps;
  readonly trustProxy: boolean;
  /** Gives a new internal connection to the control-plane HTTP server. */
  readonly controlPlane: (server: Duplex) => void;
  readonly logger: Logger;
  /** An idle connection, or a request head not complete, is closed after this long. */
  readonly keepAliveMs: number;
  /** Re-checks the client certificate of a resumed TLS session (resumed-peer-check.ts). */
  readonly recheckPeer?: ResumedCertificateCheck | undefined;
  /** The viewer's file answers the HTTP/2 edge may send itself, after the same session check (h2/h2-viewer.ts). */
  readonly viewer?: ViewerFiles | undefined;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const HOLD_PIPELINE = 1;
const HOLD_UPSTREAM = 2;
/** Bytes a client may have sent ahead of the current answer: one more head, and what TLS delivers at once. */
const MAX_PENDING_BYTES = MAX_HEAD_BYTES + 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class EdgeConnection {
  readonly #socket: TLSSocket;
  readonly #ctx: EdgeContext;
  /** Who the client is, as its handshake established it: never re-read from the socket. */
  readonly #peer: PeerIdentity;
  #buf: Buffer = EMPTY;
  #busy = false;
  #closed = false;
  #exchange: Exchange | undefined;
  #control: Duplex | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The TCP peer, canonical (an IPv4-mapped address as IPv4). */
  readonly #peerAddress: string;
  /** The current request's client address (client-address.ts): the peer, or with trustProxy the balancer's X-Forwarded-For entry. */
  #client: string;
  /** The id of the DICOMweb exchange in progress (audit events and log lines). */
  #requestId: string | undefined;

  constructor(socket: TLSSocket, ctx: EdgeContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#peer = snapshotPeer(socket, ctx.recheckPeer);
    this.#peerAddress = canonicalAddress(socket.remoteAddress ?? '');
    this.#client = this.#peerAddress;
    socket.setNoDelay(true);
    // TLS records are decrypted into the read buffer the DIMSE listener shares too, instead of a new
    // 16 KB buffer per read; the bytes are copied out at once (node's small-buffer pool for a
    // request head), because a connection keeps a request while it is guarded (docs/benchmarks.md).
    let shared = false;
    shared = readChunks(socket, (chunk, n) => { this.#onData(shared ? Buffer.from(chunk.subarray(0, n)) : chunk); });
    // Any error on the client's socket (a TLS alert, a refused renegotiation, a reset) ends the connection.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (tlsError(err.code)) this.#ctx.logger.info({ source: socket.remoteAddress, err: { message: err.message, code: err.code } }, 'TLS error on the client connection: closed');
      this.#onClose();
      socket.destroy();
    });
    socket.on('close', () => { this.#onClose(); });
    this.#armTimer();
  }

  /** Ends the connection now (gateway stopping). */
  destroy(): void {
    this.#socket.destroy();
  }

  /**
   * (Re)starts the connection's one timer. Between requests it is the keep-alive and request-head
   * deadline; while a request body is arriving, the longest silence allowed between its bytes (a
   * client that trickles a body is cut off, whether or not it logged in).
   */
  #armTimer(): void {
    if (this.#timer !== undefined) { this.#timer.refresh(); return; }
    this.#timer = setTimeout(() => {
      if (this.#closed) return;
      if (this.#busy) {
        if (this.#exchange?.wantsBody !== true) return;
        this.#ctx.logger.info({ source: this.#socket.remoteAddress }, 'request body stalled: connection closed');
        this.#socket.destroy();
      } else if (this.#buf.length === 0) this.#socket.destroy();
      else this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'the request head did not arrive in time'), 408, true);
    }, this.#ctx.keepAliveMs);
    this.#timer.unref();
  }

  /** Why the socket is not being read: pipelined bytes waiting, or the PACS not taking the body. */
  #holds = 0;

  #hold(reason: number, on: boolean): void {
    const before = this.#holds;
    this.#holds = on ? before | reason : before & ~reason;
    if (before === 0 && this.#holds !== 0) this.#socket.pause();
    else if (before !== 0 && this.#holds === 0) this.#socket.resume();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#exchange?.abort();
    this.#control?.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    const ex = this.#exchange;
    if (ex !== undefined && ex.wantsBody) {
      this.#timer?.refresh();
      const rest = ex.clientData(chunk);
      if (rest === undefined) return;
      chunk = rest;
    }
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#busy) {
      // A pipelined request (or body bytes that came during the guard): kept, within bounds.
      if (this.#buf.length > MAX_HEAD_BYTES) this.#hold(HOLD_PIPELINE, true);
      if (this.#buf.length > MAX_PENDING_BYTES) {
        this.#ctx.logger.info({ source: this.#socket.remoteAddress }, 'too many bytes sent ahead of the answer: connection closed');
        this.#socket.destroy();
      }
      return;
    }
    this.#next();
  }

  /** Starts on the next request head in the buffer, if it is complete. */
  #next(): void {
    if (this.#busy || this.#closed) return;
    const end = this.#buf.indexOf(CRLFCRLF);
    if (end < 0) {
      if (this.#buf.includes(LFLF)) { this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'malformed HTTP request: bare LF in the request head'), 400, true); return; }
      if (this.#buf.length > MAX_HEAD_BYTES) this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'the request head is too large'), 431, true);
      return;
    }
    if (end + 4 > MAX_HEAD_BYTES) { this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'the request head is too large'), 431, true); return; }
    const buf = this.#buf;
    const head = parseRequestHead(buf, end);
    if (isRefusal(head)) {
      this.#ctx.logger.info({ source: this.#socket.remoteAddress, reason: head.reason, status: head.status }, 'malformed HTTP request refused');
      // RFC 9110 §9.3.2: an answer to HEAD has no content, refusals included.
      this.#refuse(new GatewayError('ERR_BAD_REQUEST', `malformed HTTP request: ${head.reason}`), head.status, true, undefined, buf.toString('latin1', 0, 5) === 'HEAD ');
      return;
    }
    if (this.#ctx.trustProxy) {
      let xff: string | undefined;
      for (const [k, v] of head.headers) if (k === 'x-forwarded-for') xff = v;
      const c = clientAddress(this.#peerAddress, xff, true);
      if (!c.ok) {
        this.#ctx.logger.info({ source: this.#peerAddress, reason: c.reason }, 'malformed HTTP request refused');
        this.#refuse(new GatewayError('ERR_BAD_REQUEST', `malformed HTTP request: ${c.reason}`), 400, true);
        return;
      }
      this.#client = c.address;
    }
    this.#busy = true;
    const raw = buf.subarray(0, end + 4);
    this.#buf = buf.subarray(end + 4);
    const mounted = mountOf(this.#ctx.mounts, head.target);
    if (mounted === undefined) {
      const viewer = this.#ctx.viewer;
      const file = viewer === undefined || head.version !== '1.1' ? undefined : viewerRequest(head, head.body.kind !== 'none', viewer, { address: this.#client, peer: this.#peer });
      if (viewer === undefined || file === undefined) this.#toControlPlane(head, raw, false);
      else void this.#viewerFile(head, raw, file, viewer);
    } else {
      this.#toPacs(head, mounted).catch((err: unknown) => {
        this.#ctx.logger.error({ err: { message: (err as Error).message } }, 'DICOMweb request failed');
        this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'internal error'), 500, true, undefined, head.method === 'HEAD');
      });
    }
  }

  /** Answers with an error; `close` ends the connection after it. */
  #refuse(err: GatewayError, status?: number, close = false, headers?: Readonly<Record<string, string>>, headOnly = false): void {
    if (this.#closed) return;
    this.#socket.write(errorResponse(err, { ...(status === undefined ? {} : { status }), close, ...(headers === undefined ? {} : { headers }), head: headOnly }));
    if (close) this.#close();
  }

  /** Ends the connection after what was written; a client that does not close its side is cut off. */
  #close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 5000).unref();
  }

  async #toPacs(head: RequestHead, m: Mounted): Promise<void> {
    const isHead = head.method === 'HEAD';
    if (head.version !== '1.1') {
      this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'DICOMweb requests must use HTTP/1.1'), 505, true, undefined, isHead);
      return;
    }
    const bad = admissionRefusal(head);
    if (bad !== undefined) {
      this.#refuse(bad, 400, true, undefined, isHead);
      return;
    }
    this.#requestId = nextRequestId();
    const auth = authInputOfHead(head, this.#client, this.#peer, this.#requestId);
    const verdict = await guardHead(head, m, auth, this.#ctx.guard);
    if (this.#closed) return;
    if (!verdict.allowed) {
      // A refused request's body is never read: the connection ends after the answer.
      this.#refuse(verdict.error, verdict.status, head.body.kind !== 'none' || !head.keepAlive, verdict.headers, isHead);
      if (!this.#closed) this.#ready();
      return;
    }
    if (head.expectContinue && head.body.kind !== 'none') this.#socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    const out = pacsRequestHead(head, m, auth.ip);
    const pool = this.#ctx.pools.get(m.mount);
    if (pool === undefined) throw new TypeError(`no upstream pool for ${m.mount.prefix}`);
    forwardToPacs(pool, head.body.kind !== 'none', verdict.outcome, {
      gone: () => this.#closed,
      start: (lease, onEnd) => { this.#start(lease.socket, head, out, (res, _raw, close) => pacsResponseHead(res, close), onEnd, verdict.outcome); },
      failed: (err) => { this.#upstreamFailed(head, err, false); },
      ended: (o) => { this.#ended(o, head, true); },
    });
  }

  /** A viewer file the edge answers itself after the session check (viewer-files.ts); else the control plane's. */
  async #viewerFile(head: RequestHead, raw: Buffer, file: ViewerRequest, viewer: ViewerFiles): Promise<void> {
    let a;
    try {
      a = await viewerFileAnswer(file, viewer, this.#ctx.logger);
    } catch (err) {
      this.#ctx.logger.error({ err: { message: (err as Error).message } }, 'viewer file request failed');
      this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'internal error'), 500, true, undefined, head.method === 'HEAD');
      return;
    }
    if (this.#closed) return;
    if (a === undefined) { this.#toControlPlane(head, raw, false); return; }
    const close = !head.keepAlive;
    const s = this.#socket;
    s.cork();
    let flowing = s.write(h1ViewerHead(a, close));
    // The cached body itself (no copy): the socket keeps a reference until it is written.
    if (a.body !== undefined) flowing = s.write(a.body);
    s.uncork();
    if (close) this.#close();
    // The next request once this answer has left (a client that reads nothing holds no more than one file).
    else if (flowing) this.#ready();
    else s.once('drain', () => { if (!this.#closed) this.#ready(); });
  }

  #toControlPlane(head: RequestHead, raw: Buffer, retry: boolean): void {
    let c = this.#control;
    if (c === undefined || c.destroyed || c.writableEnded || c.readableEnded) {
      c?.destroy();
      const s = this.#socket;
      const self = this;
      const pair = internalConnection({
        // The control plane's req.ip: the client address the edge worked out for the request it is
        // handing over (one request at a time goes to the control plane), never re-derived there.
        get remoteAddress() { return self.#client; },
        remotePort: s.remotePort, peerIdentity: this.#peer,
      });
      this.#ctx.controlPlane(pair.server);
      c = pair.edge;
      c.on('error', () => undefined);
      this.#control = c;
    }
    const conn = c;
    this.#start(conn, head, raw, (_res, rawHead) => rawHead, (o) => {
      if (o.kind !== 'done' || !o.upstreamReusable) conn.destroy();
      if (o.kind === 'no-response' && !o.badRequest && !retry && head.body.kind === 'none') { this.#toControlPlane(head, raw, true); return; }
      this.#ended(o, head, false);
    });
  }

  #start(upstream: Duplex, head: RequestHead, out: Buffer | string, responseHead: (res: ResponseHead, raw: Buffer, close: boolean) => Buffer | string, onEnd: (o: ExchangeOutcome) => void, outcome?: RequestOutcome): void {
    const ex = new Exchange({
      client: this.#socket, upstream, head: out, method: head.method, body: head.body, clientKeepAlive: head.keepAlive, outcome,
      responseHead, onEnd: (o) => { this.#exchange = undefined; this.#hold(HOLD_UPSTREAM, false); onEnd(o); },
      holdClient: (hold) => { this.#hold(HOLD_UPSTREAM, hold); },
    });
    this.#exchange = ex;
    const pending = this.#buf;
    this.#buf = EMPTY;
    if (pending.length > 0) this.#onData(pending);
    if (ex.wantsBody) {
      // Body bytes that came during the guard may have filled the buffer and held the socket.
      this.#armTimer();
      this.#hold(HOLD_PIPELINE, false);
    }
  }

  #upstreamFailed(head: RequestHead, err: Error, timeout: boolean): void {
    this.#ctx.logger.warn({ err: { message: err.message, code: (err as { code?: string }).code }, requestId: this.#requestId }, 'upstream DICOMweb request failed');
    const e = upstreamError(err, timeout);
    const close = head.body.kind !== 'none' || !head.keepAlive;
    this.#refuse(e, undefined, close, undefined, head.method === 'HEAD');
    if (!this.#closed) this.#ready();
  }

  /** After an exchange; `pacs` says whether it went to the PACS (else to the control plane). */
  #ended(o: ExchangeOutcome, head: RequestHead, pacs: boolean): void {
    if (this.#closed) return;
    if (o.kind === 'no-response') {
      if (o.badRequest) {
        this.#ctx.logger.info({ source: this.#socket.remoteAddress, reason: o.error.message }, 'malformed HTTP request refused');
        this.#refuse(new GatewayError('ERR_BAD_REQUEST', o.error.message), 400, true, undefined, head.method === 'HEAD');
        return;
      }
      if (!pacs) {
        this.#ctx.logger.error({ err: { message: o.error.message } }, 'control-plane request failed');
        this.#refuse(new GatewayError('ERR_BAD_REQUEST', 'internal error'), 500, true, undefined, head.method === 'HEAD');
        return;
      }
      this.#upstreamFailed(head, o.error, o.timeout);
      return;
    }
    if (o.kind === 'broken') {
      if (pacs) this.#ctx.logger.warn({ err: { message: o.error.message }, requestId: this.#requestId }, 'DICOMweb response cut off');
      this.#closed = true;
      this.#socket.destroy();
      return;
    }
    if (!o.clientReusable) {
      this.#close();
      return;
    }
    this.#ready();
  }

  /** Back to reading the next request. */
  #ready(): void {
    this.#busy = false;
    this.#armTimer();
    this.#hold(HOLD_PIPELINE, false);
    if (this.#buf.length > 0) this.#next();
  }
}
