// The parties of the HTTP differential: node's llhttp (strict), nginx as a reverse proxy, Orthanc, and a recording upstream.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { startProcess, waitForPort, type StartedProcess } from '../helpers/tools.js';
import { freePort } from '../helpers/ports.js';

/** A request as a party framed it: method, target and a digest of its body. */
export interface Framed {
  readonly method: string;
  readonly target: string;
  readonly body: string;
}

export function framed(method: string, target: string, body: Buffer): Framed {
  return { method, target, body: `${body.length}:${createHash('sha1').update(body).digest('hex').slice(0, 8)}` };
}

/** A strict node HTTP server (llhttp without insecureHTTPParser) that records every request and answers 200. */
export interface Recorder {
  readonly port: number;
  readonly seen: Framed[];
  /** Requests node refused (clientError), by count. */
  refused: number;
  close(): Promise<void>;
}

export async function startRecorder(): Promise<Recorder> {
  const seen: Framed[] = [];
  const rec = { seen, refused: 0 } as Recorder & { port: number; refused: number };
  const server: Server = createHttpServer({ insecureHTTPParser: false, keepAliveTimeout: 10_000 }, (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      seen.push(framed(req.method ?? '', req.url ?? '', Buffer.concat(parts)));
      res.writeHead(200, { 'content-length': '0' });
      res.end();
    });
  });
  server.on('clientError', (_err, socket: Socket) => {
    rec.refused++;
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rec.port = (server.address() as { port: number }).port;
  rec.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return rec;
}

/**
 * Sends `bytes` on a fresh connection and collects the answer until the peer closes, `responses` final
 * responses have arrived, or the peer stays quiet for `quietMs` after its last byte (`maxMs` in all).
 */
export function exchange(port: number, bytes: Buffer, o: { tls?: boolean; quietMs?: number; maxMs?: number; responses?: number } = {}): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = o.tls === true
      ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false })
      : netConnect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      clearTimeout(max);
      socket.destroy();
      resolve(Buffer.concat(got));
    };
    const quiet = (): void => { clearTimeout(timer); timer = setTimeout(done, o.quietMs ?? 1000); };
    const max = setTimeout(done, o.maxMs ?? 8000);
    socket.on('data', (c: Buffer) => {
      got.push(c);
      if (statuses(Buffer.concat(got)).length >= (o.responses ?? Infinity)) done();
      else quiet();
    });
    socket.on('close', done);
    socket.on('error', () => undefined);
    socket.once(o.tls === true ? 'secureConnect' : 'connect', () => { socket.write(bytes); quiet(); });
  });
}

/** Status codes of the responses in an answer stream (interim 1xx left out). */
export function statuses(answer: Buffer): number[] {
  return [...answer.toString('latin1').matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])).filter((s) => s >= 200);
}

export interface Nginx { readonly port: number; stop(): Promise<void> }

/** Debian's nginx as a plain reverse proxy to `upstreamPort` (proxy_pass without a URI: the request URI is passed as sent). */
export async function startNginx(dir: string, upstreamPort: number): Promise<Nginx> {
  const port = await freePort();
  const tmp = join(dir, 'nginx-tmp');
  mkdirSync(tmp, { recursive: true });
  const conf = [
    'daemon off;', 'master_process off;', 'worker_processes 1;', ...(userInfo().uid === 0 ? ['user root root;'] : []),
    `pid ${join(dir, 'nginx.pid')};`, `error_log ${join(dir, 'nginx-error.log')} info;`, 'events { worker_connections 256; }',
    'http {', `  client_body_temp_path ${tmp}/client;`, `  proxy_temp_path ${tmp}/proxy;`, `  fastcgi_temp_path ${tmp}/fastcgi;`,
    `  uwsgi_temp_path ${tmp}/uwsgi;`, `  scgi_temp_path ${tmp}/scgi;`, `  access_log ${join(dir, 'nginx-access.log')};`,
    `  server { listen 127.0.0.1:${port}; location / { proxy_pass http://127.0.0.1:${upstreamPort}; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    '}',
  ];
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, `${conf.join('\n')}\n`);
  const p: StartedProcess = await startProcess('nginx', ['-p', dir, '-c', file, '-e', join(dir, 'nginx-error.log')]);
  await waitForPort(port, '127.0.0.1', 15_000);
  return { port, stop: async () => { await p.stop(); } };
}
