// Keep-alive TCP connections to one plain-HTTP upstream (the PACS's DICOMweb port), bounded in number.

import { connect, type NetConnectOpts, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface UpstreamPoolOptions {
  readonly host: string;
  readonly port: number;
  /** Most connections open at once; further requests wait for one. */
  readonly maxConnections: number;
  /**
   * A connection attempt that takes longer fails; an open connection silent for this long emits
   * 'timeout' (an exchange in progress fails with 504, an idle connection is closed). Set once per
   * connection: node allocates a new timer on every setTimeout call.
   */
  readonly timeoutMs: number;
}

export interface Lease {
  readonly socket: Socket;
  /** The connection has served an earlier request (it may have been closed by the upstream meanwhile). */
  readonly reused: boolean;
}

type Waiter = (err: Error | undefined, lease?: Lease) => void;

export class UpstreamPool {
  readonly #o: UpstreamPoolOptions;
  readonly #idle: Socket[] = [];
  readonly #waiting: { fresh: boolean; cb: Waiter; timer: NodeJS.Timeout }[] = [];
  #open = 0;
  #closed = false;

  constructor(options: UpstreamPoolOptions) {
    this.#o = options;
  }

  /** A connection for one exchange: an idle one unless `fresh` is asked for. Calls back once. */
  acquire(fresh: boolean, cb: Waiter): void {
    if (this.#closed) { cb(new Error('upstream pool closed')); return; }
    if (!fresh) {
      const s = this.#idle.pop();
      if (s !== undefined) {
        this.#unwatchIdle(s);
        cb(undefined, { socket: s, reused: true });
        return;
      }
    }
    if (this.#open >= this.#o.maxConnections) {
      // A fresh connection at the limit: close an idle one to make room, else wait.
      const victim = this.#idle.shift();
      if (victim === undefined) { this.#wait(fresh, cb); return; }
      this.#unwatchIdle(victim);
      victim.destroy();
      this.#open--;
    }
    this.#connect(cb);
  }

  /** Gives a connection back: kept for the next exchange when `reusable`, else closed. */
  release(socket: Socket, reusable: boolean): void {
    if (!reusable || this.#closed || socket.destroyed || socket.readableEnded) {
      if (!socket.destroyed) socket.destroy();
      this.#open--;
      this.#serveWaiter();
      return;
    }
    // A kept connection goes to the first waiter that may reuse one; one that asked for a fresh
    // connection (a request with a body) gets a new one instead.
    const i = this.#waiting.findIndex((x) => !x.fresh);
    const w = i < 0 ? undefined : this.#waiting.splice(i, 1)[0];
    if (w !== undefined) { clearTimeout(w.timer); w.cb(undefined, { socket, reused: true }); return; }
    if (this.#waiting.length > 0) {
      socket.destroy();
      this.#open--;
      this.#serveWaiter();
      return;
    }
    this.#idle.push(socket);
    this.#watchIdle(socket);
  }

  /** Queues a request for a connection; it fails with a timeout (504) if none frees up in time. */
  #wait(fresh: boolean, cb: Waiter): void {
    const entry = {
      fresh, cb,
      timer: setTimeout(() => {
        const i = this.#waiting.indexOf(entry);
        if (i >= 0) this.#waiting.splice(i, 1);
        cb(Object.assign(new Error(`no PACS connection free within ${String(this.#o.timeoutMs)} ms (${String(this.#o.maxConnections)} in use)`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
      }, this.#o.timeoutMs),
    };
    entry.timer.unref();
    this.#waiting.push(entry);
  }

  /** Closes every idle connection and refuses new acquisitions; connections in use close on release. */
  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) { this.#unwatchIdle(s); s.destroy(); this.#open--; }
    for (const w of this.#waiting.splice(0)) { clearTimeout(w.timer); w.cb(new Error('upstream pool closed')); }
  }

  #connect(cb: Waiter): void {
    this.#open++;
    // Reads land in one shared buffer (see UpstreamSink) instead of a new 64 KB buffer per read, whose
    // external memory drove V8's mark-compacts under WADO-RS load (docs/benchmarks.md).
    const s: Socket = connect({
      host: this.#o.host, port: this.#o.port, noDelay: true,
      onread: { buffer: sharedReadBuffer, callback: (n: number, buf: Uint8Array) => { deliver(s, n, buf); return true; } },
    } as NetConnectOpts);
    setSink(s, undefined);
    const timer = setTimeout(() => s.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.#o.timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      this.#open--;
      this.#serveWaiter();
      cb(err);
    };
    s.once('error', onError);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      s.setTimeout(this.#o.timeoutMs);
      // Listeners for the connection's lifetime, passing events to its current holder (attachSink).
      s.on('end', () => { holderOf(s)?.closed(upstreamClosed()); });
      s.on('error', (e: Error) => { holderOf(s)?.closed(e); });
      s.on('timeout', () => { holderOf(s)?.timeout(); });
      (s as Socket & { [kIdle]?: UpstreamSink })[kIdle] = { data: () => { this.#drop(s); }, closed: () => { this.#drop(s); }, timeout: () => { this.#drop(s); } };
      cb(undefined, { socket: s, reused: false });
    });
  }

  #serveWaiter(): void {
    const w = this.#waiting.shift();
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.acquire(w.fresh, w.cb);
  }

  /** An idle connection that talks, ends, errs or times out is no longer usable. */
  #watchIdle(s: Socket): void {
    setSink(s, (s as Socket & { [kIdle]?: UpstreamSink })[kIdle]);
  }

  #unwatchIdle(s: Socket): void {
    setSink(s, undefined);
  }

  #drop(s: Socket): void {
    const i = this.#idle.indexOf(s);
    if (i >= 0) { this.#idle.splice(i, 1); this.#open--; this.#unwatchIdle(s); }
    s.destroy();
  }
}

const kIdle = Symbol('idle-sink');
const kSink = Symbol('upstream-sink');
const kListeners = Symbol('sink-listeners');

/** One read buffer for every pooled connection: node fills it and calls back synchronously, one read at a time. */
const sharedReadBuffer = Buffer.allocUnsafeSlow(64 * 1024);

/** What an upstream connection reports to whoever holds it: an exchange, or the pool while it is idle. */
export interface UpstreamSink {
  /** Bytes read. From a pooled connection: a view of a buffer shared by every pooled connection, valid only during the call (copy what is kept or queued). */
  data(chunk: Buffer): void;
  /** The upstream ended the connection, or it failed. */
  closed(err: Error): void;
  /** The connection was silent for the pool's timeoutMs. */
  timeout(): void;
}

function upstreamClosed(): Error {
  return new Error('the upstream closed the connection');
}

function setSink(s: Socket, sink: UpstreamSink | undefined): void {
  (s as Socket & { [kSink]?: UpstreamSink })[kSink] = sink;
}

/** The pooled connection's holder; with none, whatever happened makes the connection unusable: it is closed. */
function holderOf(s: Socket): UpstreamSink | undefined {
  const sink = (s as Socket & { [kSink]?: UpstreamSink })[kSink];
  if (sink === undefined) s.destroy();
  return sink;
}

function deliver(s: Socket, n: number, buf: Uint8Array): void {
  holderOf(s)?.data(Buffer.from(buf.buffer, buf.byteOffset, n));
}

function isPooled(s: object): s is Socket {
  return kSink in s;
}

interface SinkListeners { data(c: Buffer): void; end(): void; error(e: Error): void; timeout(): void }

/**
 * Who gets an upstream connection's events from now on (undefined: nobody). A pooled connection
 * keeps its listeners for life and only its holder changes, instead of an exchange adding and
 * removing four listeners per request; any other duplex (the control plane's in-process
 * connection) gets listeners added and removed.
 */
export function attachSink(s: Duplex, sink: UpstreamSink | undefined): void {
  if (isPooled(s)) { setSink(s, sink); return; }
  const held = s as Duplex & { [kListeners]?: SinkListeners };
  const old = held[kListeners];
  if (old !== undefined) {
    s.off('data', old.data);
    s.off('end', old.end);
    s.off('error', old.error);
    s.off('timeout', old.timeout);
    held[kListeners] = undefined;
  }
  if (sink === undefined) return;
  const l: SinkListeners = {
    data: (c) => { sink.data(c); }, end: () => { sink.closed(upstreamClosed()); }, error: (e) => { sink.closed(e); }, timeout: () => { sink.timeout(); },
  };
  s.on('data', l.data);
  s.on('end', l.end);
  s.on('error', l.error);
  s.on('timeout', l.timeout);
  held[kListeners] = l;
}
