// `npm run soak [-- --faults-only | --mixed-only] [--stores N] [--stows N] [--associations N] [--minutes M] [--json FILE]`:
// the full fault run (10,000 C-STOREs, 1,000 STOW-RS, 20 associations) and the 10-minute mixed-traffic soak.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEnvironment } from './environment.js';
import { runFaults, type FaultReport } from './faults.js';
import { runSoak, type SoakReport } from './soak.js';
import { flat } from './trend.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const log = (l: string): void => console.error(`[${new Date().toISOString().slice(11, 19)}] ${l}`);

async function faults(): Promise<FaultReport> {
  const env = await startEnvironment(log);
  try {
    return await runFaults(env, {
      stores: option('--stores', 10_000), stows: option('--stows', 1000), associations: option('--associations', 20),
      perAssociation: 25, uploaders: 4, faultEveryMs: option('--fault-every', 20) * 1000, log,
    });
  } finally {
    await env.close();
  }
}

async function mixed(): Promise<SoakReport> {
  const probeFile = join(process.cwd(), `.soak-probe-${process.pid}.jsonl`);
  const env = await startEnvironment(log, { probeFile });
  try {
    return await runSoak(env, { durationMs: option('--minutes', 10) * 60_000, probeFile, log });
  } finally {
    await env.close();
  }
}

async function main(): Promise<number> {
  const out: { faults?: FaultReport; soak?: SoakReport } = {};
  let ok = true;
  if (!process.argv.includes('--mixed-only')) {
    const r = await faults();
    out.faults = r;
    console.log(`faults: ${r.faults.length} faults (${[...new Set(r.faults.map((f) => f.kind))].join(', ')}) in ${(r.durationMs / 60_000).toFixed(1)} min`);
    console.log(`  sent ${r.sent}, acknowledged ${r.acknowledged}, failed ${r.sent - r.acknowledged} ${JSON.stringify(r.failed)}, verified ${r.verified}, missing ${r.missing.length}, different ${r.different.length}, improper ${r.improper.length}`);
    console.log(`  gateway RSS ${r.rss.firstMb.toFixed(0)} → max ${r.rss.maxMb.toFixed(0)} → ${r.rss.lastMb.toFixed(0)} MB over ${r.rss.samples} samples; unexpected exits ${r.unexpectedExits.length}`);
    for (const line of [...r.missing, ...r.different, ...r.improper, ...r.unexpectedExits].slice(0, 20)) console.log(`  ! ${line}`);
    ok &&= r.missing.length === 0 && r.different.length === 0 && r.improper.length === 0 && r.unexpectedExits.length === 0 && r.verified === r.acknowledged;
  }
  if (!process.argv.includes('--faults-only')) {
    const r = await mixed();
    out.soak = r;
    console.log(`soak: ${(r.durationMs / 60_000).toFixed(1)} min, ${Object.values(r.operations).reduce((a, o) => a + o.n, 0)} operations, unexpected answers ${r.unexpected.length}, unexpected exits ${r.unexpectedExits.length}`);
    for (const [k, v] of Object.entries(r.operations)) console.log(`  ${k}: ${v.n} (${v.expected} as expected)`);
    const perMinute = new Map<number, typeof r.samples[number][]>();
    for (const s of r.samples) perMinute.set(Math.floor(s.atS / 60), [...(perMinute.get(Math.floor(s.atS / 60)) ?? []), s]);
    console.log('  minute | RSS MB (max) | heap MB | event-loop delay p99 / max ms | active handles | open fds');
    for (const [m, ss] of perMinute) {
      const max = (f: (s: typeof ss[number]) => number): number => Math.max(...ss.map(f));
      console.log(`  ${m} | ${max((s) => s.rssMb).toFixed(0)} | ${max((s) => s.heapUsedMb).toFixed(0)} | ${max((s) => s.eldP99Ms).toFixed(1)} / ${max((s) => s.eldMaxMs).toFixed(1)} | ${max((s) => s.handles)} | ${max((s) => s.fds)}`);
    }
    for (const [name, series, slack] of [['RSS', r.samples.map((s) => s.rssMb), 40], ['heap', r.samples.map((s) => s.heapUsedMb), 20], ['handles', r.samples.map((s) => s.handles), 40], ['fds', r.samples.map((s) => s.fds), 40]] as const) {
      const f = flat(series, slack);
      console.log(`  ${name}: ${f.flat ? 'flat' : 'GROWING'} (${f.detail})`);
      ok &&= f.flat;
    }
    for (const u of r.unexpected.slice(0, 20)) console.log(`  ! ${u}`);
    ok &&= r.unexpected.length === 0 && r.unexpectedExits.length === 0;
  }
  const json = process.argv.indexOf('--json');
  if (json >= 0) writeFileSync(process.argv[json + 1] as string, `${JSON.stringify(out, null, 2)}\n`);
  return ok ? 0 : 1;
}

main().then((c) => process.exit(c), (err: unknown) => { console.error(err); process.exit(2); });
