// The DIMSE byte path's buffers: the shared read buffer (socket-read.ts) and the upstream slabs (upstream-batch.ts).

import { once } from 'node:events';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import t from 'tap';
import { readChunks } from '../../src/util/socket-read.js';
import { UpstreamBatch } from '../../src/dicom/upstream-batch.js';
import { SLAB_BYTES } from '../../src/util/slab-pool.js';
import { testPki } from './helpers/pki.js';

/** A TCP sink that collects what it receives. */
async function sink(): Promise<{ port: number; received: () => Buffer; close: () => Promise<void>; ended: Promise<void> }> {
  const parts: Buffer[] = [];
  let resolveEnded!: () => void;
  const ended = new Promise<void>((r) => { resolveEnded = r; });
  const server = createNetServer((s) => {
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => { s.end(); resolveEnded(); });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    received: () => Buffer.concat(parts),
    close: () => new Promise((r) => server.close(() => r())),
    ended,
  };
}

const pattern = (n: number, seed: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

t.test('UpstreamBatch copies what it is given, in order, across slab boundaries, and reuses its slabs', async (t) => {
  const s = await sink();
  t.teardown(() => s.close());
  const socket = netConnect(s.port, '127.0.0.1');
  await once(socket, 'connect');
  const batch = new UpstreamBatch(socket);
  const expected: Buffer[] = [];
  const scratch = Buffer.allocUnsafe(40000);
  for (let i = 0; i < 60; i++) {
    // The same scratch buffer is overwritten after every append: the batch must hold copies.
    const n = 1 + ((i * 7919) % scratch.length);
    pattern(n, i).copy(scratch);
    expected.push(Buffer.from(scratch.subarray(0, n)), Buffer.from([i]));
    batch.append([scratch.subarray(0, n), Buffer.from([i])]);
    scratch.fill(0xee);
    if (i % 3 === 0 || batch.queued >= SLAB_BYTES) batch.write();
  }
  batch.write();
  t.equal(batch.queued, 0);
  socket.end();
  await s.ended;
  t.ok(s.received().equals(Buffer.concat(expected)), 'the bytes that arrive are the bytes appended');
});

t.test('UpstreamBatch.take returns queued bytes as one copy ahead of what the caller writes itself', async (t) => {
  const s = await sink();
  t.teardown(() => s.close());
  const socket = netConnect(s.port, '127.0.0.1');
  await once(socket, 'connect');
  const batch = new UpstreamBatch(socket);
  batch.append([pattern(SLAB_BYTES - 10, 1)]);
  batch.write();
  batch.append([pattern(100, 2)]); // crosses into a second slab
  batch.append([pattern(SLAB_BYTES, 3)]);
  const taken = batch.take();
  t.equal(batch.queued, 0);
  t.equal(taken.length, 1);
  t.ok((taken[0] as Buffer).equals(Buffer.concat([pattern(100, 2), pattern(SLAB_BYTES, 3)])));
  batch.append([pattern(5, 4)]);
  batch.discard();
  t.equal(batch.queued, 0, 'discard drops what is queued');
  for (const b of taken) socket.write(b);
  socket.end(Buffer.from('end'));
  await s.ended;
  t.ok(s.received().equals(Buffer.concat([pattern(SLAB_BYTES - 10, 1), pattern(100, 2), pattern(SLAB_BYTES, 3), Buffer.from('end')])));
});

t.test('readChunks delivers a TLS connection\'s bytes in order, pauses and resumes, and ends', async (t) => {
  const { server: cert } = testPki();
  const received: Buffer[] = [];
  let shared: boolean | undefined;
  let serverSocket: TLSSocket | undefined;
  const ended = new Promise<void>((resolve) => {
    const server = createTlsServer({ key: cert.keyPem, cert: cert.certPem }, (socket) => {
      serverSocket = socket;
      shared = readChunks(socket, (chunk, length) => {
        // Keep a copy: a shared chunk is only valid during the call.
        received.push(Buffer.from(chunk.subarray(0, length)));
        if (received.length === 3) {
          socket.pause();
          setTimeout(() => socket.resume(), 20);
        }
      });
      socket.on('close', () => { server.close(); resolve(); });
    });
    server.listen(0, '127.0.0.1', () => {
      const c = tlsConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        for (let i = 0; i < 50; i++) c.write(pattern(1000 + i * 997, i));
        c.end();
      });
      c.on('data', () => undefined);
      c.on('end', () => c.destroy());
    });
  });
  await ended;
  t.ok(serverSocket !== undefined);
  t.equal(shared, true, 'this node supports reading TLS into the shared buffer');
  const expected = Buffer.concat(Array.from({ length: 50 }, (_, i) => pattern(1000 + i * 997, i)));
  t.ok(Buffer.concat(received).equals(expected), 'every byte, in order');
});

t.test('readChunks on a plain TCP socket with data already buffered falls back to data events', async (t) => {
  const s = await sink();
  t.teardown(() => s.close());
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const c = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
  const [socket] = await accepted;
  socket.pause();
  c.write('hello');
  // Let the bytes land in the readable buffer before readChunks is called.
  socket.read(0);
  await new Promise((r) => setTimeout(r, 50));
  const got: Buffer[] = [];
  const shared = readChunks(socket, (chunk, length) => got.push(Buffer.from(chunk.subarray(0, length))));
  if (socket.readableLength > 0 || !shared) t.equal(shared, false);
  socket.resume();
  c.end(' world');
  await once(socket, 'end');
  t.equal(Buffer.concat(got).toString(), 'hello world');
  c.destroy();
  socket.destroy();
});
