// Issue 19: the edge queues up to CLIENT_QUEUE_BYTES for a client before it stops reading the PACS (not after every
// 64 KB read, as a 16 KB socket highWaterMark did), and a client that reads nothing still holds the PACS back.

import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable, type Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { Exchange, type ExchangeOutcome } from '../../src/http/edge/exchange.js';
import { UpstreamPool, type Lease } from '../../src/http/edge/upstream-pool.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

t.test('a client that does not read: the PACS is held back once a bounded queue is full; when it reads, every byte arrives', async (t) => {
  const size = 48 * 1024 * 1024;
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) body[i] = (i >> 12) & 0xff;
  let sent = 0;
  const pacs = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(size) });
    // Written in 1 MB pieces, counting what the PACS got rid of: the measure of how far the gateway read ahead.
    let off = 0;
    const more = (): void => {
      while (off < size) {
        const piece = body.subarray(off, off + 1024 * 1024);
        off += piece.length;
        const ok = res.write(piece, () => { sent += piece.length; });
        if (!ok) { res.once('drain', more); return; }
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const pool = new UpstreamPool({ host: '127.0.0.1', port: (pacs.address() as AddressInfo).port, maxConnections: 1, timeoutMs: 60_000 });
  t.teardown(() => pool.close());
  const lease = await new Promise<Lease>((resolve, reject) => pool.acquire(true, (err, l) => (l === undefined ? reject(err) : resolve(l))));

  // A client that takes every write and completes none until told to: like a TLS socket whose peer stopped reading.
  const got: Buffer[] = [];
  const held: (() => void)[] = [];
  let reading = false;
  const client = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) { got.push(Buffer.from(chunk)); if (reading) setImmediate(cb); else held.push(cb); },
  });
  const done = new Promise<ExchangeOutcome>((resolve) => {
    new Exchange({
      client: client as unknown as Duplex, upstream: lease.socket, head: 'GET / HTTP/1.1\r\nhost: pacs\r\n\r\n', method: 'GET',
      body: { kind: 'none' }, clientKeepAlive: true, responseHead: (_res, raw) => raw, onEnd: resolve, holdClient: () => undefined,
    });
  });

  // Wait until nothing moves any more (the gateway stopped reading, the kernel buffers are full).
  for (let i = 0; i < 200 && client.writableLength === 0; i++) await sleep(50);
  let last = -1;
  for (let i = 0; i < 200 && client.writableLength !== last; i++) {
    last = client.writableLength;
    await sleep(50);
  }
  t.ok(client.writableLength > 64 * 1024, 'the client queue takes more than one 64 KB read before the PACS is paused', { queued: client.writableLength });
  t.ok(client.writableLength < 1024 * 1024, 'the client queue stays bounded (256 KB and one read)', { queued: client.writableLength });
  t.ok(sent < size / 2, 'the PACS is held back: most of the answer is still on its side', { sent, size });

  reading = true;
  for (const cb of held.splice(0)) cb();
  const outcome = await done;
  pool.release(lease.socket, false);
  t.equal(outcome.kind, 'done', 'the exchange completes once the client reads');
  await new Promise<void>((r) => client.end(r));
  const all = Buffer.concat(got);
  t.ok(all.subarray(all.indexOf(CRLFCRLF) + 4).equals(body), 'the client got the answer byte for byte');
});
