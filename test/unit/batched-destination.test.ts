// The log destination gathers a turn's lines into one write, in order, and loses none when the process exits.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { BatchedDestination } from '../../src/audit/batched-destination.js';
import { createLogger } from '../../src/audit/logger.js';

function recorder(): { writes: string[]; syncFlushes: number; out: ConstructorParameters<typeof BatchedDestination>[0] } {
  const r = {
    writes: [] as string[], syncFlushes: 0,
    out: {
      minLength: 0,
      write: (s: string): boolean => { r.writes.push(s); return true; },
      flushSync: (): void => { r.syncFlushes++; },
      flush: (cb?: (err?: Error) => void): void => { cb?.(); },
    },
  };
  return r;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => { setImmediate(resolve); });

t.test('the lines of one event-loop turn go out as one write, after the turn, in order', async (t) => {
  const r = recorder();
  const d = new BatchedDestination(r.out);
  d.write('a\n');
  d.write('b\n');
  d.write('c\n');
  t.same(r.writes, [], 'nothing is written during the turn');
  await nextTurn();
  t.same(r.writes, ['a\nb\nc\n'], 'one write with the three lines');
  d.write('d\n');
  await nextTurn();
  t.same(r.writes, ['a\nb\nc\n', 'd\n'], 'the next turn\'s line in a write of its own');
  await nextTurn();
  t.equal(r.writes.length, 2, 'no empty writes');
});

t.test('flushSync and flush hand the gathered lines on at once', async (t) => {
  const r = recorder();
  const d = new BatchedDestination(r.out);
  d.write('x\n');
  d.flushSync();
  t.same(r.writes, ['x\n']);
  t.equal(r.syncFlushes, 1, 'and the writer flushes synchronously');
  d.write('y\n');
  await new Promise<void>((resolve) => { d.flush(() => { resolve(); }); });
  t.same(r.writes, ['x\n', 'y\n']);
  await nextTurn();
  t.equal(r.writes.length, 2, 'the scheduled hand-on finds nothing left');
});

t.test('a pino logger on it writes the same lines as it would directly', async (t) => {
  const r = recorder();
  const log = createLogger({ destination: new BatchedDestination(r.out) });
  log.info({ audit: { event: 'authz.http', decision: 'allow' } }, 'authz.http');
  log.warn('second');
  await nextTurn();
  t.equal(r.writes.length, 1);
  const lines = (r.writes[0] ?? '').split('\n');
  t.equal(lines.length, 3, 'two lines, each ending in a newline');
  t.match(JSON.parse(lines[0] ?? '') as object, { level: 'info', audit: { event: 'authz.http', decision: 'allow' }, msg: 'authz.http' });
  t.match(JSON.parse(lines[1] ?? '') as object, { level: 'warn', msg: 'second' });
});

t.test('with a delay, lines wait for it (not for the end of the turn) and go out in one write', async (t) => {
  const r = recorder();
  const d = new BatchedDestination(r.out, { maxDelayMs: 40 });
  d.write('a\n');
  await nextTurn();
  d.write('b\n');
  await nextTurn();
  t.same(r.writes, [], 'nothing written after two turns');
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.same(r.writes, ['a\nb\n'], 'one write once the delay has passed');
  d.write('c\n');
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.same(r.writes, ['a\nb\n', 'c\n'], 'a later line starts a delay of its own');
});

t.test('a batch that reaches maxChars is handed on at once, whatever the delay', async (t) => {
  const r = recorder();
  const d = new BatchedDestination(r.out, { maxDelayMs: 1000, maxChars: 10 });
  d.write('12345\n');
  t.same(r.writes, [], 'below the bound: held');
  d.write('67890\n');
  t.same(r.writes, ['12345\n67890\n'], 'at the bound: written in the same call');
  d.write('x\n');
  d.flushSync();
  t.same(r.writes, ['12345\n67890\n', 'x\n'], 'the count starts again after a hand-on');
});

// The gateway's own stdout destination in a child process that exits in the same turn as it logs:
// without the exit hook, the gathered lines would never reach the writer.
const loggerModule = fileURLToPath(new URL('../../dist/audit/logger.js', import.meta.url));
for (const [ending, flushMs] of [['process.exit(0)', 0], ['throw new Error("boom")', 0], ['process.exit(0)', 20], ['throw new Error("boom")', 20]] as const) {
  t.test(`every line reaches stdout when the process ends with ${ending} (log.flushMs ${flushMs})`, async (t) => {
    const script = `import { createLogger } from ${JSON.stringify(loggerModule)};
      const log = createLogger({ flushMs: ${flushMs} });
      for (let i = 0; i < 2000; i++) log.info({ audit: { event: 'authz.http', n: i } }, 'authz.http');
      ${ending};`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    t.equal(lines.length, 2000, `all 2,000 lines (stderr: ${r.stderr.slice(0, 300)})`);
    t.same(lines.map((l) => (JSON.parse(l) as { audit: { n: number } }).audit.n), Array.from({ length: 2000 }, (_, i) => i), 'in order');
  });
}

// Lines logged after a flush, while the turn's hand-on is still scheduled, must reach the exit
// hook too. (The flushed line's own asynchronous write may or may not finish before the process
// ends, which is SonicBoom's behaviour: only the later lines are asserted.)
t.test('lines logged after a flush in the same turn reach stdout when the process exits', async (t) => {
  const script = `import { createLogger } from ${JSON.stringify(loggerModule)};
    const log = createLogger({ flushMs: 20 });
    log.info('early');
    log.flush();
    for (let i = 0; i < 100; i++) log.info({ audit: { event: 'authz.http', n: i } }, 'late');
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const late = r.stdout.split('\n').filter((l) => l.includes('"msg":"late"'));
  t.same(late.map((l) => (JSON.parse(l) as { audit: { n: number } }).audit.n), Array.from({ length: 100 }, (_, i) => i), `the 100 later lines, in order (stderr: ${r.stderr.slice(0, 300)})`);
});
