// The scanner against hostile HTTP and TLS peers: endless or slow answers, redirects, JSON built to
// break it, escape sequences for the admin's terminal, a handshake that stalls. Every probe ends,
// stays bounded, and reports what it saw in printable, bounded words.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { openPlain } from '../../src/scan/connection.js';
import { probeDicom } from '../../src/scan/dicom-probe.js';
import { probeContext, scan } from '../../src/scan/scanner.js';
import { parseTargets } from '../../src/scan/targets.js';
import type { ServiceResult } from '../../src/scan/types.js';
import { listenOnLoopback, probeLoopback } from '../helpers/scan.js';

/** A raw TCP peer: `answer` runs once the first bytes of each connection arrive. */
function rawPeer(t: Test, answer: (s: Socket) => void): Promise<number> {
  return listenOnLoopback(t, createServer((s) => s.once('data', () => answer(s))));
}

function httpPeer(t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  return listenOnLoopback(t, createHttpServer(handler));
}

const ctx = (timeoutMs = 1000) => probeContext({ version: '0.0.0-test', timeoutMs, ratePerSecond: 1000 });
const probe = (port: number, timeoutMs = 1000): Promise<ServiceResult> => probeLoopback(port, timeoutMs);

/** Writes `chunk` for as long as the peer reads; returns a counter of the bytes handed to the socket. */
function flood(s: Socket, head: string, chunk: Buffer): { written: number } {
  const count = { written: 0 };
  s.write(head);
  const more = (): void => {
    while (!s.destroyed) {
      count.written += chunk.length;
      if (!s.write(chunk)) return;
    }
  };
  s.on('drain', more);
  more();
  return count;
}

// C0 and C1 control characters (ESC, BEL, CR, …) would let a scanned host drive the admin's terminal.
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

function checkPrintable(t: Test, r: ServiceResult): void {
  for (const line of r.evidence) {
    t.notMatch(line, CONTROL, `no control characters: ${JSON.stringify(line.slice(0, 80))}`);
    t.ok(line.length <= 400, `an evidence line is bounded (${line.length} characters)`);
  }
}

t.test('an endless HTTP body: at most the 256 KB cap is read, then the connection is dropped', async (t) => {
  const counters: Array<{ written: number }> = [];
  const port = await rawPeer(t, (s) => {
    counters.push(flood(s, 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n', Buffer.from(`4000\r\n${'0,'.repeat(8192)}\r\n`)));
  });
  const r = await probe(port);
  t.equal(r.service, 'http');
  t.equal(r.verdict, 'unknown', 'an HTTP server, but no PACS path recognised');
  for (const c of counters) t.ok(c.written < 16 * 1024 * 1024, `the peer could hand over only ${c.written} bytes before the scanner hung up`);
});

t.test('endless HTTP headers: not HTTP the scanner accepts, no unbounded buffering', async (t) => {
  const port = await rawPeer(t, (s) => { flood(s, 'HTTP/1.1 200 OK\r\n', Buffer.from(`X-Pad: ${'a'.repeat(1000)}\r\n`)); });
  const r = await probe(port);
  t.equal(r.verdict, 'unknown');
  t.match(r.evidence.join('\n'), /HPE_HEADER_OVERFLOW/);
});

t.test('a slowloris answer (one byte at a time, never finished) ends each request at its timeout', async (t) => {
  const timers = new Set<NodeJS.Timeout>();
  t.teardown(() => { for (const x of timers) clearInterval(x); });
  const port = await rawPeer(t, (s) => {
    const text = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n${'['.repeat(100_000)}`;
    let i = 0;
    const timer = setInterval(() => { if (s.destroyed) clearInterval(timer); else s.write(text.charAt(i++)); }, 20);
    timers.add(timer);
  });
  const r = await probe(port, 400);
  t.equal(r.verdict, 'unknown');
  t.match(r.evidence.join('\n'), /no HTTP answer within 400 ms/);
});

t.test('redirects are reported, never followed (on the host or off it), and no path is asked twice', async (t) => {
  const elsewhere: string[] = [];
  const other = await httpPeer(t, (req, res) => { elsewhere.push(req.url ?? ''); res.end('{}'); });
  const asked: string[] = [];
  const port = await httpPeer(t, (req, res) => {
    asked.push(req.url ?? '');
    const offHost = req.url === '/system';
    res.writeHead(302, { location: offHost ? `http://127.0.0.1:${other}/login?next=/system` : `/moved${req.url ?? ''}` }).end();
  });
  const r = await probe(port);
  t.same(elsewhere, [], 'nothing was asked of the host the redirect pointed to');
  t.notOk(asked.some((u) => u.startsWith('/moved')), 'an on-host redirect is not followed either');
  t.equal(new Set(asked).size, asked.length, `every path once, no retries (${asked.join(', ')})`);
  t.equal(r.verdict, 'protected', 'a redirect to a login page asks for authentication');
  t.match(r.evidence.join('\n'), new RegExp(`GET /system → 302: asks for authentication \\(redirect to a login \\(http://127\\.0\\.0\\.1:${other}/login\\?next=/system\\)\\)`));
  checkPrintable(t, r);
});

t.test('JSON built to break the classifier (objects without a usable toString) does not crash the probe', async (t) => {
  const port = await httpPeer(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/system' ? '{"DicomAet":{"toString":1,"valueOf":1},"Version":{"toString":1}}' : '{"__proto__":{"length":1}}');
  });
  const r = await probe(port);
  t.equal(r.service, 'http');
  t.equal(r.verdict, 'unknown', 'not what Orthanc sends: not recognised');
  const report = await scan({ targets: parseTargets(['127.0.0.1']).targets, ports: [port], version: '0.0.0-test', timeoutMs: 1000, ratePerSecond: 1000 });
  t.same(report.summary, { exposed: 0, protected: 0, closed: 0, unknown: 1 }, 'the whole scan completes');
});

t.test("a hostile host's text reaches the report printable and bounded", async (t) => {
  const orthanc = await httpPeer(t, (req, res) => {
    if (req.url !== '/system') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ DicomAet: 'ORTHANC\u001b[2J\u001b[H', Version: `1.0\u001b]0;owned\u0007${'v'.repeat(100_000)}` }));
  });
  const exposed = await probe(orthanc);
  t.equal(exposed.verdict, 'exposed');
  t.match(exposed.evidence.join('\n'), /Orthanc REST API answered without authentication \(Orthanc 1\.0/);
  checkPrintable(t, exposed);

  const challenge = await httpPeer(t, (_req, res) => {
    res.writeHead(302, { location: `/login/${'l'.repeat(8000)}`, 'www-authenticate': `Basic realm="${'r'.repeat(8000)}"` }).end();
  });
  const challenged = await probe(challenge);
  t.equal(challenged.verdict, 'protected');
  checkPrintable(t, challenged);

  const server = await httpPeer(t, (_req, res) => { res.writeHead(404, { server: `Evil/${'x'.repeat(8000)}` }).end(); });
  const unknown = await probe(server);
  t.match(unknown.evidence.join('\n'), /Server: Evil\/x+/);
  checkPrintable(t, unknown);

  // An HTTP server on a DICOM port: its status line is quoted in the evidence.
  const port = await rawPeer(t, (s) => s.end('HTTP/1.1 400 \u001b]0;owned\u0007\u001b[2JBad\r\n\r\n'));
  const c = ctx();
  const attempts = await probeDicom(() => openPlain({ host: '127.0.0.1', address: '127.0.0.1', port, servername: undefined }, c), c);
  const o = attempts[0]?.outcome;
  t.match(o, { kind: 'not-dicom', http: true, detail: /^an HTTP response \("HTTP\/1\.1 400 / });
  t.notMatch(o?.kind === 'not-dicom' ? o.detail : '', CONTROL, 'no control characters');
});

t.test('a TLS server that stalls in the middle of its handshake is left at the timeout', async (t) => {
  // A TLS record header announcing a 16 KB handshake message, five bytes of it, then nothing.
  const port = await rawPeer(t, (s) => s.write(Buffer.from([0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3f, 0xfc, 0x03])));
  const r = await probe(port, 400);
  t.equal(r.verdict, 'unknown');
  t.match(r.evidence.join('\n'), /no answer to a TLS ClientHello within 400 ms/);
  checkPrintable(t, r);
});

t.test('a host name: the report says which of its addresses was probed', async (t) => {
  const port = await httpPeer(t, (_req, res) => { res.writeHead(404).end(); });
  const report = await scan({ targets: parseTargets(['localhost']).targets, ports: [port], version: '0.0.0-test', timeoutMs: 1000, ratePerSecond: 1000 });
  t.equal(report.results[0]?.host, 'localhost');
  t.match(report.results[0]?.evidence.at(-1), /^probed 127\.0\.0\.1, the address localhost resolves to/);
  const none = await scan({ targets: parseTargets(['no-such-host.invalid']).targets, ports: [port], version: '0.0.0-test', timeoutMs: 1000, ratePerSecond: 1000 });
  t.match(none.results, [{ host: 'no-such-host.invalid', verdict: 'unknown', evidence: [/does not resolve/] }], 'RFC 6761: .invalid never resolves');
});
