// One request/response exchange between a client connection and an upstream connection.
//
// The request head (already rewritten) goes up, the request body streams up as it arrives, the
// response head is parsed and rewritten, and the response body streams down. Body bytes are never
// copied or buffered beyond socket backpressure: only heads and chunk-size lines are read.

import type { Duplex } from 'node:stream';
import { ChunkedFramer, LengthFramer, type BodyFramer } from './body-framer.js';
import type { RequestHead } from './request-head.js';
import { parseResponseHead, type ResponseHead } from './response-head.js';
import { giveSlab, SLAB_BYTES, takeSlab } from '../../util/slab-pool.js';
import { attachSink, type UpstreamSink } from './upstream-pool.js';
import type { RequestOutcome } from '../request-outcome.js';
import { traffic } from '../../audit/traffic.js';

/** Largest upstream response head accepted. */
const MAX_RESPONSE_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');
/** Copies up to this size come from node's small-buffer pool (no external allocation of their own). */
const SMALL_COPY = 4096;
/**
 * Response bytes the client socket may hold queued before the upstream is paused. A TLS server socket keeps
 * node's 16 KB writable highWaterMark (tls.createServer does not pass one on), so pausing on every `false`
 * paused and resumed the upstream after every 64 KB read: two epoll_ctl calls and ~5 event-loop turns per
 * 64 KB of a big download (docs/benchmarks.md, "Issue 19").
 */
const CLIENT_QUEUE_BYTES = 256 * 1024;

export type ExchangeOutcome =
  /** The response went to the client in full. */
  | { readonly kind: 'done'; readonly upstreamReusable: boolean; readonly clientReusable: boolean }
  /** Nothing was sent to the client yet; the caller answers (502/504) or retries. */
  | { readonly kind: 'no-response'; readonly error: Error; readonly timeout: boolean; readonly badRequest: boolean }
  /** The exchange broke after the client got part of the response; the client connection must be closed. */
  | { readonly kind: 'broken'; readonly error: Error };

export interface ExchangeSpec {
  readonly client: Duplex;
  readonly upstream: Duplex;
  /** The request head to send upstream (CRLFCRLF included). */
  readonly head: Buffer | string;
  readonly method: string;
  readonly body: RequestHead['body'];
  /** The client wants to keep the connection. */
  readonly clientKeepAlive: boolean;
  /** The response head for the client; `close` says the client connection ends after this response. Empty: nothing to write (the callback answered itself). */
  readonly responseHead: (res: ResponseHead, raw: Buffer, close: boolean) => Buffer | string;
  readonly onEnd: (outcome: ExchangeOutcome) => void;
  /** Stops (true) or restarts (false) reading the client while the PACS takes the request body. */
  readonly holdClient: (hold: boolean) => void;
  /** Told the response head and body bytes (allowed DICOMweb requests, when the audit trail has listeners). */
  readonly outcome?: RequestOutcome | undefined;
  /**
   * The client keeps what it is given until later (an HTTP/2 stream queues DATA for nghttp2 instead
   * of encrypting at once): every body chunk is copied into a buffer of its own.
   */
  readonly clientKeepsBuffers?: boolean;
}

function framerFor(body: RequestHead['body'] | ResponseHead['body'], strict: boolean): BodyFramer | undefined {
  if (body.kind === 'length') return new LengthFramer(body.length);
  if (body.kind === 'chunked') return new ChunkedFramer({ strict });
  return undefined;
}

export class Exchange {
  readonly #s: ExchangeSpec;
  /** Request body framer; undefined once the request body is complete (or when there is none). */
  #reqFramer: BodyFramer | undefined;
  #requestBroken = false;
  #resFramer: BodyFramer | undefined;
  #resHead: ResponseHead | undefined;
  #headBuf: Buffer | undefined;
  /** The response head, held back to go out with the first body bytes. */
  #pendingHead: Buffer | string | undefined;
  #sentToClient = false;
  #ended = false;
  #closeClient = false;
  readonly #sink: UpstreamSink = {
    data: (c) => { this.#upData(c); },
    closed: (e) => { this.#upClosed(e); },
    timeout: () => { this.#fail(new Error('upstream timeout'), true); },
  };
  #upPaused = false;
  readonly #onClientDrain = (): void => { this.#upPaused = false; this.#s.upstream.resume(); };
  #clientPaused = false;
  readonly #onUpDrain = (): void => { this.#clientPaused = false; this.#s.holdClient(false); };

  constructor(spec: ExchangeSpec) {
    this.#s = spec;
    this.#reqFramer = framerFor(spec.body, true);
    const up = spec.upstream;
    // The upstream connection's inactivity timeout (set once by its pool) fails the exchange.
    attachSink(up, this.#sink);
    spec.outcome?.sent();
    // latin1: header bytes go out exactly as they came in (obs-text included).
    if (typeof spec.head === 'string') (up as NodeJS.WritableStream).write(spec.head, 'latin1');
    else up.write(spec.head);
  }

  /** The request body is still arriving. */
  get wantsBody(): boolean {
    return this.#reqFramer !== undefined;
  }

  /** Client bytes while the request body is incomplete; returns the bytes after the body (the next request), if any. */
  clientData(chunk: Buffer): Buffer | undefined {
    const f = this.#reqFramer;
    if (f === undefined || this.#ended) return chunk;
    const r = f.feed(chunk);
    if (r.error !== undefined) {
      this.#requestBroken = true;
      this.#reqFramer = undefined;
      this.#fail(new Error(`malformed request body: ${r.error}`), false, true);
      return undefined;
    }
    traffic.httpToUpstream += r.used;
    if (r.used > 0 && !this.#s.upstream.write(r.used === chunk.length ? chunk : chunk.subarray(0, r.used)) && !this.#clientPaused) {
      this.#clientPaused = true;
      this.#s.holdClient(true);
      this.#s.upstream.once('drain', this.#onUpDrain);
    }
    if (r.done) this.#reqFramer = undefined;
    return r.used < chunk.length ? chunk.subarray(r.used) : undefined;
  }

  /** The client went away: drop the upstream connection (its response cannot be read to the end). */
  abort(): void {
    if (this.#ended) return;
    this.#finish({ kind: 'broken', error: new Error('the client closed the connection') });
  }

  #upData(chunk: Buffer): void {
    if (this.#ended) return;
    if (this.#resHead === undefined) {
      const buf = this.#headBuf === undefined ? chunk : Buffer.concat([this.#headBuf, chunk]);
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > MAX_RESPONSE_HEAD) this.#fail(new Error('upstream response head too large'), false);
        else this.#headBuf = buf === chunk ? Buffer.from(chunk) : buf;
        return;
      }
      this.#headBuf = undefined;
      const parsed = parseResponseHead(buf, end, this.#s.method);
      if (typeof parsed === 'string') { this.#fail(Object.assign(new Error(`malformed upstream response: ${parsed}`), { code: 'UPSTREAM_MALFORMED' }), false); return; }
      if (parsed.status === 101) { this.#fail(new Error('the upstream switched protocols'), false); return; }
      const interim = parsed.status < 200;
      // The client connection ends after this response when either side wants it, or the request body is unfinished.
      this.#closeClient = !this.#s.clientKeepAlive || parsed.body.kind === 'close' || this.#reqFramer !== undefined || this.#requestBroken;
      const headOut = this.#s.responseHead(parsed, buf.subarray(0, end + 4), this.#closeClient && !interim);
      this.#sentToClient = true;
      const rest = buf.subarray(end + 4);
      if (interim) {
        // 1xx: relay it and wait for the final response.
        this.#writeHead(headOut);
        if (rest.length > 0) this.#upData(rest);
        return;
      }
      this.#resHead = parsed;
      this.#s.outcome?.head(parsed);
      this.#resFramer = framerFor(parsed.body, false);
      // Head and the body bytes that came with it leave in one TLS write (see #writeClient). An
      // empty head is a client that took the head another way (an HTTP/2 stream's respond()).
      this.#pendingHead = headOut.length === 0 ? undefined : headOut;
      if (parsed.body.kind !== 'none' && rest.length > 0) this.#bodyData(rest);
      if (this.#pendingHead !== undefined) {
        this.#pendingHead = undefined;
        if (!this.#ended) this.#writeHead(headOut);
      }
      if (parsed.body.kind === 'none') this.#complete(rest.length > 0);
      return;
    }
    this.#bodyData(chunk);
  }

  #writeHead(head: Buffer | string): void {
    if (head.length === 0) return;
    if (typeof head === 'string') this.#s.client.write(head, 'latin1');
    else this.#writeClient(head);
  }

  #bodyData(chunk: Buffer): void {
    const head = this.#resHead;
    if (head === undefined) return;
    const outcome = this.#s.outcome;
    if (head.body.kind === 'close') { traffic.httpToClient += chunk.length; outcome?.body(chunk); this.#writeClient(chunk); return; }
    const f = this.#resFramer;
    if (f === undefined) return;
    const r = f.feed(chunk);
    if (r.error !== undefined) { this.#finish({ kind: 'broken', error: new Error(`malformed upstream body: ${r.error}`) }); return; }
    if (r.used > 0) {
      const body = r.used === chunk.length ? chunk : chunk.subarray(0, r.used);
      traffic.httpToClient += r.used;
      // Before the write: the chunk may be a view of a shared read buffer (see #writeClient).
      outcome?.body(body);
      this.#writeClient(body);
    }
    if (r.done) this.#complete(r.used < chunk.length);
  }

  /**
   * Upstream chunks may be views of a shared read buffer (UpstreamPool): a TLS socket encrypts what
   * it is given at once, so a view is safe to write, unless the socket queues it (a write still in
   * flight, or corked): then it gets a copy, in a reused slab once it is more than a few KB.
   */
  #writeClient(b: Buffer): void {
    const head = this.#pendingHead;
    this.#pendingHead = undefined;
    const ok = head === undefined ? this.#writeBody(b) : this.#writeJoined(head, b);
    if (!ok && !this.#upPaused && this.#s.client.writableLength >= CLIENT_QUEUE_BYTES) {
      this.#upPaused = true;
      this.#s.upstream.pause();
      this.#s.client.once('drain', this.#onClientDrain);
    }
  }

  #writeBody(b: Buffer): boolean {
    const client = this.#s.client;
    if (this.#s.clientKeepsBuffers === true) return client.write(Buffer.from(b));
    if (client.writableLength === 0 && client.writableCorked === 0) return client.write(b);
    return this.#writeCopy(b.length, (out) => { b.copy(out); });
  }

  /** The response head and the first body bytes as one write (one TLS record for a small answer). */
  #writeJoined(head: Buffer | string, b: Buffer): boolean {
    const n = head.length + b.length;
    if (n > SLAB_BYTES) {
      this.#writeHead(head);
      return this.#writeBody(b);
    }
    return this.#writeCopy(n, (out) => {
      if (typeof head === 'string') out.write(head, 0, 'latin1');
      else head.copy(out);
      b.copy(out, head.length);
    });
  }

  /**
   * Writes `n` bytes that `fill` puts into a buffer the client socket may keep: from node's
   * small-buffer pool up to SMALL_COPY, else a reused slab (given back when the write completes),
   * or a buffer of its own beyond a slab.
   */
  #writeCopy(n: number, fill: (out: Buffer) => void): boolean {
    const slab = n > SMALL_COPY && n <= SLAB_BYTES ? takeSlab() : undefined;
    const out = slab === undefined ? Buffer.allocUnsafe(n) : slab.subarray(0, n);
    fill(out);
    if (slab === undefined) return this.#s.client.write(out);
    return this.#s.client.write(out, () => { giveSlab(slab); });
  }

  /** The response is complete. `extra`: the upstream sent bytes after it (its connection is not reusable). */
  #complete(extra: boolean): void {
    const head = this.#resHead;
    const bodyDone = this.#reqFramer === undefined && !this.#requestBroken;
    const upstreamReusable = !extra && bodyDone && head !== undefined && head.keepAlive;
    const clientReusable = !this.#closeClient && bodyDone;
    this.#finish({ kind: 'done', upstreamReusable, clientReusable });
  }

  #upClosed(err: Error): void {
    if (this.#ended) return;
    if (this.#resHead?.body.kind === 'close') {
      // The body was delimited by the upstream closing: it is complete.
      this.#closeClient = true;
      this.#finish({ kind: 'done', upstreamReusable: false, clientReusable: false });
      return;
    }
    this.#fail(err, false);
  }

  #fail(error: Error, timeout: boolean, badRequest = false): void {
    if (this.#ended) return;
    if (this.#sentToClient) this.#finish({ kind: 'broken', error });
    else this.#finish({ kind: 'no-response', error, timeout, badRequest });
  }

  #finish(outcome: ExchangeOutcome): void {
    this.#ended = true;
    const up = this.#s.upstream;
    attachSink(up, undefined);
    // 'drain' listeners are there only while paused (once: a drain removes its own).
    if (this.#upPaused) { this.#s.client.off('drain', this.#onClientDrain); up.resume(); }
    if (this.#clientPaused) { up.off('drain', this.#onUpDrain); this.#s.holdClient(false); }
    this.#s.onEnd(outcome);
  }
}
