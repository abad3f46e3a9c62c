// Polite by design: at most --concurrency ports in flight, new connections spaced by --rate across all
// of them (with an injected clock, not by measuring time).

import { createServer, type Socket } from 'node:net';
import t from 'tap';
import { RateLimiter } from '../../src/scan/rate-limiter.js';
import { scan } from '../../src/scan/scanner.js';
import { parseTargets } from '../../src/scan/targets.js';

t.test('the rate limiter spaces starts 1/rate apart, shared by every caller', async (t) => {
  let now = 1000;
  const waits: number[] = [];
  const limiter = new RateLimiter(10, { now: () => now, sleep: async (ms) => { waits.push(ms); } });
  // Five workers asking at the same moment: one starts at once, the others 100, 200, 300, 400 ms later.
  await Promise.all(Array.from({ length: 5 }, () => limiter.take()));
  t.same(waits, [100, 200, 300, 400]);
  now += 5000;
  await limiter.take();
  t.same(waits, [100, 200, 300, 400], 'after a pause the next start is at once');
  await limiter.take();
  t.same(waits, [100, 200, 300, 400, 100]);
});

t.test('--concurrency bounds the ports probed at once', async (t) => {
  // Six ports that accept and never answer: each probe step waits its timeout with one connection open.
  let open = 0;
  let most = 0;
  const sockets = new Set<Socket>();
  const servers = await Promise.all(Array.from({ length: 6 }, async () => {
    const server = createServer((s) => {
      sockets.add(s);
      most = Math.max(most, ++open);
      s.on('error', () => undefined);
      s.on('close', () => { open--; sockets.delete(s); });
      s.resume(); // read (and drop) what the scanner sends, so that its hang-up is seen at once
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  }));
  t.teardown(() => Promise.all(servers.map((s) => new Promise<void>((resolve) => { for (const x of sockets) x.destroy(); s.close(() => resolve()); }))));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  const report = await scan({ targets: parseTargets(['127.0.0.1']).targets, ports, concurrency: 1, timeoutMs: 150, ratePerSecond: 1000, version: '0.0.0-test' });
  t.same(report.summary, { exposed: 0, protected: 0, closed: 0, unknown: 6 });
  // One worker holds one connection at a time; the server may see the next before the last one's close.
  t.ok(most <= 2, `at most one port in flight (${most} connections open at once)`);
});
