// Test helper: a raw TLS connection to the HTTPS edge (bytes written by hand, HTTP/1.1 responses read one
// at a time), for the protocol's edge cases that an HTTP client library would normalise away.

import { connect, type TLSSocket } from 'node:tls';

export interface RawResponse {
  status: number;
  /** The head as received (status line and fields, without the final CRLFCRLF). */
  head: string;
  headers: [string, string][];
  body: Buffer;
  get(name: string): string | undefined;
  all(name: string): string[];
  text(): string;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** A raw TLS connection to the gateway: write bytes, read HTTP/1.1 responses one at a time. */
export class Raw {
  readonly socket: TLSSocket;
  #buf: Buffer = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => { this.#buf = Buffer.concat([this.#buf, c]); this.#notify(); });
    const end = (): void => { this.#ended = true; this.#notify(); };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** Waits for more bytes or the end; throws after `deadline`. */
  async #more(deadline: number, what: string): Promise<void> {
    if (this.#ended) throw new Error(`connection closed while waiting for ${what}; have ${JSON.stringify(this.#buf.toString('latin1').slice(0, 300))}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.#buf.toString('latin1').slice(0, 300))}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      this.#wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  get closed(): boolean { return this.#ended; }
  /** Bytes received and not read yet. */
  get pending(): Buffer { return this.#buf; }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (err) => (err ? reject(err) : resolve())));
  }

  async #take(n: number, deadline: number): Promise<Buffer> {
    while (this.#buf.length < n) await this.#more(deadline, `${n} bytes`);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async #line(deadline: number): Promise<string> {
    let i;
    while ((i = this.#buf.indexOf('\r\n')) < 0) await this.#more(deadline, 'a line');
    const line = this.#buf.toString('latin1', 0, i);
    this.#buf = this.#buf.subarray(i + 2);
    return line;
  }

  /** Reads the next response; `headOnly` for a HEAD request (no body whatever the fields say). */
  async response(options: { headOnly?: boolean; timeoutMs?: number; maxBody?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    let end;
    while ((end = this.#buf.indexOf(CRLFCRLF)) < 0) await this.#more(deadline, 'a response head');
    const head = this.#buf.toString('latin1', 0, end);
    this.#buf = this.#buf.subarray(end + 4);
    const [statusLine = '', ...lines] = head.split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    if (m === null) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine)}`);
    const status = Number(m[1]);
    const headers = lines.map((l): [string, string] => {
      const c = l.indexOf(':');
      return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()];
    });
    const all = (name: string) => headers.filter(([k]) => k === name).map(([, v]) => v);
    const get = (name: string) => all(name)[0];
    let body: Buffer = Buffer.alloc(0);
    if (!(options.headOnly === true || status < 200 || status === 204 || status === 304)) {
      if (get('transfer-encoding')?.toLowerCase() === 'chunked') {
        const parts: Buffer[] = [];
        for (;;) {
          const size = parseInt((await this.#line(deadline)).split(';')[0] ?? '', 16);
          if (size === 0) break;
          parts.push(await this.#take(size, deadline));
          await this.#take(2, deadline);
        }
        while ((await this.#line(deadline)) !== '');
        body = Buffer.concat(parts);
      } else if (get('content-length') !== undefined) {
        body = await this.#take(Number(get('content-length')), deadline);
      } else {
        while (!this.#ended) await this.#more(deadline, 'the end of a close-delimited body').catch(() => undefined);
        body = this.#buf;
        this.#buf = Buffer.alloc(0);
      }
    }
    return { status, head, headers, body, get, all, text: () => body.toString('utf8') };
  }

  /** Waits until the gateway has closed the connection (or throws). */
  async untilClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended) {
      if (Date.now() >= deadline) throw new Error('the gateway did not close the connection');
      await this.#more(deadline, 'the connection to close').catch(() => undefined);
    }
  }

  /** Waits `ms` and says whether anything arrived meanwhile. */
  async quietFor(ms: number): Promise<boolean> {
    const before = this.#buf.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.#buf.length === before;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function request(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string, version = '1.1'): Buffer {
  let head = `${method} ${path} HTTP/${version}\r\nHost: localhost\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body !== undefined && !Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]);
}
