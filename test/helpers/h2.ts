// Test helper: HTTP/2 clients for the gateway's HTTPS port. `h2Session` uses node's http2 client for
// normal requests; `rawH2` opens a TLS connection with ALPN h2 and writes frames by hand (attacks).

import { connect as h2connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface H2Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text: string; json: () => any }

export interface H2Client {
  readonly session: ClientHttp2Session;
  request(method: string, path: string, options?: { headers?: OutgoingHttpHeaders; body?: string | Buffer }): Promise<H2Answer>;
  close(): Promise<void>;
}

/** An HTTP/2 session to the gateway (trusting `caPem`, SNI localhost); `cert` presents a client certificate. */
export async function h2Session(port: number, caPem: string, cert?: { cert: string; key: string }): Promise<H2Client> {
  const session = h2connect(`https://localhost:${port}`, {
    ca: caPem, servername: 'localhost', ...(cert === undefined ? {} : cert),
    createConnection: () => tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem, ALPNProtocols: ['h2'], ...(cert === undefined ? {} : cert) }),
  });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
  return {
    session,
    request: (method, path, o = {}) => new Promise((resolve, reject) => {
      const s = session.request({ ':method': method, ':path': path, ...o.headers }, { endStream: o.body === undefined });
      const chunks: Buffer[] = [];
      let headers: Record<string, string | string[] | undefined> = {};
      s.on('response', (h) => { headers = h as typeof headers; });
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: Number(headers[':status']), headers, body, text, json: () => JSON.parse(text) });
      });
      s.on('error', reject);
      if (o.body !== undefined) s.end(o.body);
    }),
    close: () => new Promise((resolve) => { if (session.closed) resolve(); else session.close(() => resolve()); }),
  };
}

// ---- raw frames ----

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK string literal, not Huffman-coded. */
function hpackString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

function hpackInt(n: number, prefix: number, first: number): Buffer {
  const max = (1 << prefix) - 1;
  if (n < max) return Buffer.from([first | n]);
  const out = [first | max];
  n -= max;
  while (n >= 128) { out.push((n % 128) + 128); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing (every name as a literal). */
export function hpack(fields: readonly (readonly [string, string | Buffer])[]): Buffer {
  return Buffer.concat(fields.flatMap(([k, v]) => [Buffer.from([0x00]), hpackString(k), hpackString(v)]));
}

/** A literal field with incremental indexing (enters the dynamic table) followed by `repeat` references to it (HPACK bomb). */
export function hpackBomb(name: string, value: string, repeat: number): Buffer {
  const lit = Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
  // The first dynamic-table entry is index 62.
  return Buffer.concat([lit, Buffer.alloc(repeat, 0x80 | 62)]);
}

export interface RawH2 {
  readonly socket: TLSSocket;
  /** Every frame the gateway sent so far, parsed. */
  readonly frames: { type: number; flags: number; streamId: number; payload: Buffer }[];
  send(...frames: Buffer[]): boolean;
  /** Resolves once the gateway closed the connection (or after a GOAWAY, whichever first). */
  closed: Promise<void>;
  /** The GOAWAY's error code, once one came. */
  goawayCode(): number | undefined;
  /** Resolves when a frame matching `pred` has arrived. */
  waitFor(pred: (f: { type: number; flags: number; streamId: number; payload: Buffer }) => boolean): Promise<{ type: number; flags: number; streamId: number; payload: Buffer }>;
  destroy(): void;
}

/** A TLS connection with ALPN h2, the client preface and an empty SETTINGS already sent. */
export async function rawH2(port: number, caPem: string): Promise<RawH2> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem, ALPNProtocols: ['h2'] });
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject); });
  if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN chose ${String(socket.alpnProtocol)}`);
  socket.on('error', () => undefined);
  const frames: RawH2['frames'] = [];
  const waiters: { pred: (f: RawH2['frames'][number]) => boolean; resolve: (f: RawH2['frames'][number]) => void }[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const f = { type: buf[3] as number, flags: buf[4] as number, streamId: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
      buf = buf.subarray(9 + len);
      frames.push(f);
      // SETTINGS from the server are acknowledged, as a client must.
      if (f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0 && !socket.destroyed) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      for (const w of waiters.splice(0)) { if (w.pred(f)) w.resolve(f); else waiters.push(w); }
    }
  });
  const closed = new Promise<void>((resolve) => { socket.once('close', () => resolve()); });
  socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  return {
    socket, frames, closed,
    send: (...fs) => !socket.destroyed && socket.write(Buffer.concat(fs)),
    goawayCode: () => { const g = frames.find((f) => f.type === FRAME.GOAWAY); return g === undefined ? undefined : g.payload.readUInt32BE(4); },
    waitFor: (pred) => {
      const seen = frames.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => { waiters.push({ pred, resolve }); });
    },
    destroy: () => { socket.destroy(); },
  };
}

/** The request header fields of a GET as a raw client sends them (pseudo-headers first). */
export function getHeaders(path: string, extra: readonly (readonly [string, string])[] = []): [string, string][] {
  return [[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost'], [':path', path], ...extra.map(([k, v]) => [k, v] as [string, string])];
}
