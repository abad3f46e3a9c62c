// Every fuzz target for a short, fixed number of executions (seeds, recorded corpus and regressions first), coverage-guided.
// The long runs (≥ 1,000,000 executions per target) are `npm run fuzz -- TARGET --runs N`; figures in docs/fuzzing.md.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TARGET_NAMES } from './targets/index.js';

const RUNS = 2000;

interface Report { target: string; executions: number; seeds: number; lines: number; codeLines: number; failures: { message: string; file?: string }[] }

t.test(`every fuzz target, ${RUNS} executions each, without a failure`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-fuzz-smoke-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'report.json');
  // The CLI in its own process (tap's TypeScript loader only): the fuzzer owns V8's coverage there, and tap's own coverage is left alone.
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const child = spawn(process.execPath, [...loader, join(import.meta.dirname, 'engine/cli.ts'), 'all', '--runs', String(RUNS), '--seed', '1', '--json', json], {
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', () => undefined);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  const reports = JSON.parse(readFileSync(json, 'utf8')) as Report[];
  t.same(reports.map((r) => r.target), TARGET_NAMES, 'every target ran');
  for (const r of reports) {
    t.ok(r.executions >= RUNS, `${r.target}: ${r.executions} executions (${r.seeds} seeds)`);
    t.ok(r.lines > 0 && r.lines <= r.codeLines, `${r.target}: coverage read (${r.lines}/${r.codeLines} lines)`);
    t.same(r.failures.map((f) => f.message), [], `${r.target}: no failure`);
  }
  t.equal(code, 0, `the fuzzer exited 0\n${out}`);
});
