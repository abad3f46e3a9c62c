// `npm run fuzz -- TARGET|all|list [--time S] [--runs N] [--seed N] [--no-coverage] [--corpus-out DIR] [--json FILE]`.

import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzz, type FuzzReport } from './engine.js';
import { loadTarget, TARGET_NAMES } from '../targets/index.js';

const USAGE = 'usage: npm run fuzz -- TARGET|all|list [--time SECONDS] [--runs N] [--seed N] [--no-coverage] [--corpus-out DIR] [--json FILE]';

/** The repository root: the CLI runs from dist-test/test/fuzz/engine or from test/fuzz/engine. */
const ROOT = process.cwd();

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
  args.splice(i, 2);
  return v;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const time = option(args, '--time');
  const runs = option(args, '--runs');
  const seed = Number(option(args, '--seed') ?? 1);
  const corpusOut = option(args, '--corpus-out');
  const json = option(args, '--json');
  const noCoverage = args.includes('--no-coverage');
  const names = args.filter((a) => !a.startsWith('--'));
  if (names.length === 0 || names[0] === 'list') {
    for (const n of TARGET_NAMES) console.log(`${n.padEnd(18)} ${(await loadTarget(n))?.about ?? ''}`);
    return names.length === 0 ? 2 : 0;
  }
  if (names.length > 1 || names[0] === 'all') {
    // One process per target: each holds only its own modules (cheaper coverage reads, no shared state).
    const list = names[0] === 'all' ? TARGET_NAMES : names;
    const passOn = process.argv.slice(2).filter((a, i, all) => !list.includes(a) && a !== 'all' && a !== '--json' && all[i - 1] !== '--json');
    const all: unknown[] = [];
    let worst = 0;
    for (const n of list) {
      const out = join(tmpdir(), `pgw-fuzz-${process.pid}-${n}.json`);
      const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), n, ...passOn, '--json', out], { stdio: 'inherit' });
      worst = Math.max(worst, r.status ?? 2);
      try { all.push(...(JSON.parse(readFileSync(out, 'utf8')) as unknown[])); rmSync(out); } catch { all.push({ target: n, failures: [{ message: `the fuzzing process ended with ${r.status ?? r.signal}` }] }); }
    }
    if (json !== undefined) writeFileSync(json, `${JSON.stringify(all, null, 2)}\n`);
    return worst;
  }
  const loaded = await loadTarget(names[0] as string);
  if (loaded === undefined) throw new Error(`no fuzz target "${names[0]}" (npm run fuzz -- list)`);
  const targets = [loaded];
  const reports: FuzzReport[] = [];
  // An error no execution caught (a stray rejection, a throw in a socket callback) is a failure of the target running now.
  let stray: string | undefined;
  process.on('uncaughtException', (err) => { stray = `uncaught ${err.name}: ${err.message}`; console.error(stray); });
  process.on('unhandledRejection', (err) => { stray = `unhandled rejection: ${String(err)}`; console.error(stray); });
  for (const target of targets) {
    stray = undefined;
    const report = await fuzz(target, {
      seed,
      ...(runs === undefined ? {} : { runs: Number(runs) }),
      ...(time === undefined && runs === undefined ? { timeMs: 60_000 } : time === undefined ? {} : { timeMs: Number(time) * 1000 }),
      corpusDirs: [join(ROOT, 'test/fuzz/corpus', target.name), join(ROOT, 'test/fuzz/regressions', target.name)],
      crashDir: join(ROOT, 'test/fuzz/crashes'),
      coverage: !noCoverage,
      ...(corpusOut === undefined ? {} : { corpusOut }),
      log: (l) => console.error(l),
    });
    const failures = stray === undefined ? report.failures : [...report.failures, { message: stray, input: Buffer.alloc(0), originalLength: 0 }];
    reports.push({ ...report, failures });
    const pct = report.codeLines === 0 ? '-' : `${((100 * report.lines) / report.codeLines).toFixed(1)} %`;
    console.log(`${target.name}: ${report.executions} executions in ${(report.durationMs / 1000).toFixed(1)} s (${Math.round(report.executions / (report.durationMs / 1000))}/s), corpus ${report.corpus}, lines ${report.lines}/${report.codeLines} (${pct}), failures ${failures.length}`);
    for (const f of failures) console.log(`  FAILURE ${f.message}${f.file === undefined ? '' : `\n    reproducer (${f.input.length} bytes, shrunk from ${f.originalLength}): ${f.file}`}`);
  }
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(reports.map((r) => ({ ...r, failures: r.failures.map((f) => ({ message: f.message, file: f.file, input: f.input.toString('base64') })) })), null, 2)}\n`);
  return reports.some((r) => r.failures.length > 0) ? 1 : 0;
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err instanceof Error ? err.message : err); process.exit(2); });
