// Smoke test of the benchmark: `npm run bench -- --quick` runs end to end and prints every scenario's table with medians and ratio columns.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { run } from '../helpers/tools.js';

/** Every scenario table (`### … (\`id\`)`) a run prints, and the summary tables after them. */
const SCENARIOS = [
  'store', 'store-fast', 'store-big', 'echo', 'find', 'qido-static', 'wado-static', 'qido-orthanc', 'wado-orthanc',
  'latency-qido', 'latency-wado', 'download-static', 'download-orthanc', 'viewer',
  // Issue 19: as a user runs it (§1), and many at once (§3; --quick: 4 and 8 associations, 16 HTTP clients).
  'user-find', 'user-assoc', 'user-qido', 'many-store-4', 'many-store-8', 'many-qido', 'many-wado',
];
/**
 * Scenarios with fewer variants than the usual three (direct, peer, gateway): the viewer compares the gateway with
 * nginx only; the in-process association client speaks only TLS, and the concurrency scenarios compare the proxies.
 */
const FEWER_VARIANTS: Record<string, number> = { viewer: 2, 'user-assoc': 2, 'many-store-4': 2, 'many-store-8': 2, 'many-qido': 2, 'many-wado': 2 };
const SUMMARIES = ['cpu', 'login', 'memory'];

/** The markdown table right after the heading that ends in (`id`): header cells and row cells. */
function tableAfter(md: string, id: string): { header: string[]; rows: string[][] } | undefined {
  const lines = md.split('\n');
  const at = lines.findIndex((l) => l.startsWith('### ') && l.endsWith(`(\`${id}\`)`));
  if (at < 0) return undefined;
  const start = lines.findIndex((l, i) => i > at && l.startsWith('| '));
  if (start < 0) return undefined;
  const cells = (l: string): string[] => l.slice(2, -2).split(' | ');
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && (lines[i] ?? '').startsWith('| '); i++) rows.push(cells(lines[i] ?? ''));
  return { header: cells(lines[start] ?? ''), rows };
}

t.test('npm run bench -- --quick: every scenario, medians, a ratio column per peer, bars, files', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'pgw-bench-smoke-'));
  // A build directory of its own (inside the repository, so node_modules resolve): parallel runs do not share files.
  const build = `dist-bench-smoke-${randomBytes(4).toString('hex')}`;
  t.teardown(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(build, { recursive: true, force: true });
  });
  const r = await run('npm', ['run', '--silent', 'bench', '--', '--quick', '--no-install', '--out', out], {
    timeoutMs: 240_000, env: { PGW_BENCH_BUILD: build },
  });
  t.equal(r.code, 0, 'the bench exits 0', { stderr: r.stderr.slice(-4000) });
  const md = r.stdout;
  t.match(md, /^# pacs-gateway benchmark \(quick\)/m, 'prints the report');

  for (const id of SCENARIOS) {
    const table = tableAfter(md, id);
    if (table === undefined) {
      t.fail(`scenario ${id}: no table`);
      continue;
    }
    const ratioColumns = table.header.filter((h) => h.startsWith('× '));
    const least = FEWER_VARIANTS[id] ?? 3;
    t.ok(table.rows.length >= least, `scenario ${id}: at least ${least} variants side by side`);
    t.equal(ratioColumns.length, table.rows.length, `scenario ${id}: a ratio column for every variant`);
    t.same(ratioColumns.map((h) => h.slice(2)), table.rows.map((row) => row[0]), `scenario ${id}: ratio columns name the variants`);
    for (const row of table.rows) {
      t.match(row[1], /^\d+(\.\d+)?$/, `scenario ${id}, ${row[0]}: a median`);
      const ratios = row.slice(row.length - ratioColumns.length);
      t.ok(ratios.every((c) => c === '—' || /^\d+\.\d\d$/.test(c)), `scenario ${id}, ${row[0]}: ratios are numbers`, { ratios });
      t.equal(ratios.filter((c) => c === '—').length, 1, `scenario ${id}, ${row[0]}: no ratio to itself`);
    }
  }
  for (const id of SUMMARIES) {
    const table = tableAfter(md, id);
    t.ok(table !== undefined && table.rows.length > 0, `summary table ${id}`);
  }
  const cpu = tableAfter(md, 'cpu');
  t.same(cpu?.header, ['workload', 'nginx', 'stunnel', 'gateway', 'gateway ÷ peer'], 'CPU table compares the gateway with nginx and stunnel');

  const bars = md.slice(md.indexOf('## Bars'));
  for (const bar of [
    'C-STORE series → Orthanc', 'WADO-RS req/s → static upstream', 'QIDO-RS req/s → static upstream', 'p99 added over nginx', 'memory flat',
    'associations/s, in-process client', 'C-FIND, new association per query', 'QIDO-RS, new TLS connection per request',
    'big download → Orthanc, first byte', 'big download → Orthanc, transfer rate',
    '8 concurrent associations storing: throughput', '8 concurrent associations storing: p99 per instance', '8 concurrent associations storing: gateway memory',
    'QIDO-RS, many concurrent clients: req/s', 'WADO-RS, many concurrent clients: p99 added over nginx',
  ]) {
    t.match(bars, new RegExp(`\\| [^|]*${bar.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^|]* \\| [^|]+ \\| [^|]+ \\| (pass|FAIL|n/a) \\|`), `bar: ${bar}`);
  }

  t.equal(readFileSync(join(out, 'quick.md'), 'utf8').trim(), md.trim(), 'quick.md holds the printed report');
  const json = JSON.parse(readFileSync(join(out, 'quick.json'), 'utf8')) as { scenarios: { id: string; variants: { samples: unknown[] }[] }[] };
  t.same(json.scenarios.map((s) => s.id).sort(), [...SCENARIOS].sort(), 'quick.json has every scenario');
  t.ok(json.scenarios.every((s) => s.variants.every((v) => v.samples.length >= 1)), 'quick.json keeps the samples');
  t.notMatch(r.stderr, /cleanup .* failed/, 'everything it started was stopped');
});
