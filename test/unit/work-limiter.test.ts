// The password-check limiter: a few at once, a short line in arrival order, a share per source, ERR_BUSY beyond.

import t from 'tap';
import { isGatewayError } from '../../src/errors.js';
import { WorkLimiter } from '../../src/util/work-limiter.js';

/** A unit of work the test finishes by hand. */
function gate(): { promise: Promise<string>; open: (v?: string) => void; fail: (e: Error) => void } {
  let open!: (v?: string) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<string>((resolve, reject) => { open = (v = 'done') => resolve(v); fail = reject; });
  return { promise, open, fail };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('runs at most `concurrency` at once, the rest in arrival order', async (t) => {
  const l = new WorkLimiter({ concurrency: 2, queue: 10, perKey: 10 });
  const gates = Array.from({ length: 5 }, gate);
  const started: number[] = [];
  const settled = Promise.allSettled(gates.map((g, i) => l.run('a', async () => { started.push(i); return g.promise; })));
  await tick();
  t.same(started, [0, 1]);
  t.same(l.load, { running: 2, waiting: 3 });
  gates[1]?.open();
  await tick();
  t.same(started, [0, 1, 2], 'a finished run passes its slot to the first in line');
  gates[0]?.fail(new Error('scrypt failed'));
  await tick();
  t.same(started, [0, 1, 2, 3], 'so does a failed one');
  for (const g of gates) g.open();
  const results = await settled;
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  t.same(l.load, { running: 0, waiting: 0 }, 'nothing left behind');
});

t.test('a full line refuses at once with ERR_BUSY, Retry-After and the reason', async (t) => {
  const l = new WorkLimiter({ concurrency: 1, queue: 2, perKey: 10 });
  const g = gate();
  const held = [0, 1, 2].map(() => l.run('a', () => g.promise));
  const err = await l.run('b', async () => 'never').catch((e: unknown) => e);
  t.ok(isGatewayError(err, 'ERR_BUSY'), 'refused');
  t.equal((err as { statusCode: number }).statusCode, 503);
  t.match((err as { detail: unknown }).detail, { reason: 'queue-full' });
  t.ok(Number((err as { detail: { retryAfterSeconds: number } }).detail.retryAfterSeconds) >= 1, 'Retry-After of at least a second');
  g.open();
  await Promise.all(held);
  t.equal(await l.run('b', async () => 'now'), 'now', 'once the line has room, work runs again');
});

t.test('one key cannot take more than its share of slots and line, other keys still get in', async (t) => {
  const l = new WorkLimiter({ concurrency: 1, queue: 10, perKey: 2 });
  const g = gate();
  const flood = [l.run('attacker', () => g.promise), l.run('attacker', () => g.promise)];
  const third = await l.run('attacker', async () => 'x').catch((e: unknown) => e);
  t.match(third, { code: 'ERR_BUSY', detail: { reason: 'source-share-full' } });
  const other = l.run('clinician', async () => 'in');
  g.open();
  t.equal(await other, 'in', 'another source queued behind and ran');
  await Promise.all(flood);
  t.equal(await l.run('attacker', async () => 'again'), 'again', 'the share is given back as runs end');
});

t.test('queue 0: only what fits in the slots runs', async (t) => {
  const l = new WorkLimiter({ concurrency: 1, queue: 0, perKey: 5 });
  const g = gate();
  const first = l.run('a', () => g.promise);
  t.match(await l.run('b', async () => 'x').catch((e: unknown) => e), { code: 'ERR_BUSY' });
  g.open();
  await first;
});

t.test('bad limits are a programmer error', async (t) => {
  t.throws(() => new WorkLimiter({ concurrency: 0, queue: 1, perKey: 1 }), TypeError);
  t.throws(() => new WorkLimiter({ concurrency: 1, queue: -1, perKey: 1 }), TypeError);
  t.throws(() => new WorkLimiter({ concurrency: 1, queue: 1, perKey: 0 }), TypeError);
});
