// Mixed-traffic soak, short version (npm run soak runs it for 10 minutes): every operation gets the answer it should,
// and the gateway's memory, event-loop delay, handles and descriptors end where they settled, not climbing.

import { join } from 'node:path';
import t from 'tap';
import { startEnvironment } from './environment.js';
import { runSoak } from './soak.js';
import { flat } from './trend.js';

t.test('mixed-traffic soak (short)', async (t) => {
  const probeFile = join(process.cwd(), '.tap', `soak-probe-${process.pid}.jsonl`);
  const env = await startEnvironment((l) => t.comment(l), { probeFile });
  t.teardown(() => env.close());
  const r = await runSoak(env, { durationMs: 60_000, probeFile, log: (l) => t.comment(l) });
  t.comment(JSON.stringify(r.operations));
  t.same(r.unexpected, [], 'every operation, hostile or not, got the answer it should');
  t.ok(Object.keys(r.operations).length >= 14 && Object.values(r.operations).every((o) => o.n > 0), 'every kind of traffic ran');
  t.same(r.unexpectedExits, [], 'the gateway never exited');
  t.ok(r.samples.length >= 30, `${r.samples.length} samples from inside the gateway`);
  for (const [name, pick, slack] of [['RSS (MB)', (s: typeof r.samples[number]) => s.rssMb, 40], ['open descriptors', (s: typeof r.samples[number]) => s.fds, 40]] as const) {
    const f = flat(r.samples.map(pick), slack);
    t.ok(f.flat, `${name} flat after warm-up: ${f.detail}`);
  }
});
