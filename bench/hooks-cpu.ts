// Micro-benchmark: CPU ns that issue 14's listeners (metrics, alert rules) add to one allowed QIDO-RS request,
// without TLS or sockets: the authz.http audit event and the request's outcome report (head, a ~1 KB
// application/dicom+json body, end), through the real Audit, metrics and AlertEngine on a memory store.
//
//   npx tsc -p bench/tsconfig.json --outDir dist-bench && node dist-bench/bench/hooks-cpu.js [--iterations 200000] [--rounds 5]
//
// Variants interleaved per round, each in a process of its own: none (no listener), metrics, rules, both (the
// defaults). The figure is the median CPU ns per request of the rounds; the difference to `none` is what the
// hooks cost. PGW_HOOKS_ONLY=rules,both picks variants (and, with --cpu-prof, profiles one).

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Audit } from '../src/audit/audit.js';
import { AlertEngine } from '../src/alerts/engine.js';
import { buildConfig } from '../src/config/load.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { MemoryStore } from '../src/state/memory-store.js';
import { RequestOutcome } from '../src/http/request-outcome.js';
import type { DicomwebRoute } from '../src/http/classify-dicomweb.js';
import type { Principal } from '../src/identity/principal.js';
import type { ResponseHead } from '../src/http/edge/response-head.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);

const body = Buffer.from(JSON.stringify([{
  '00080020': { vr: 'DA', Value: ['20240101'] }, '00080050': { vr: 'SH', Value: ['ACC0001'] },
  '00081190': { vr: 'UR', Value: ['http://127.0.0.1:8042/dicom-web/studies/1.2.826.0.1.3680043.8.498.1'] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Bench^Series' }] }, '00100020': { vr: 'LO', Value: ['PGW-BENCH'] },
  '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.1'] }, '00201208': { vr: 'IS', Value: [200] },
}]).padEnd(1000, ' '));
const head: ResponseHead = {
  status: 200, reason: 'OK', headers: [['content-type', 'application/dicom+json'], ['content-length', String(body.length)]],
  connection: [], body: { kind: 'length', length: body.length }, keepAlive: true, framing: { kind: 'length', length: body.length },
};
const principal: Principal = { id: 'bench', kind: 'user', role: 'bench', method: 'session-cookie', sessionId: 's1' };
const route: DicomwebRoute = { ok: true, action: 'search', service: 'qido-rs' };

type Variant = 'none' | 'metrics' | 'rules' | 'both';

function setup(v: Variant): { audit: Audit; stop: () => Promise<void> } {
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
  const audit = new Audit(logger);
  const config = buildConfig({});
  const store = new MemoryStore();
  const engine = v === 'rules' || v === 'both' ? new AlertEngine({ audit, store, alerts: config.alerts, logger, clock: Date.now }) : undefined;
  engine?.start();
  const metrics = v === 'metrics' || v === 'both'
    ? createMetrics({ audit, clock: Date.now, associationsOpen: () => 0, storeUp: () => true, expiryItems: () => [], sessionIdleMs: 3_600_000, sinks: () => [], rulesDropped: () => new Map() })
    : undefined;
  return { audit, stop: async () => { metrics?.stop(); await engine?.stop(); await store.close(); } };
}

async function run(v: Variant): Promise<number> {
  const { audit, stop } = setup(v);
  const one = (i: number): void => {
    audit.record({
      event: 'authz.http', source: '127.0.0.1', requestId: `r${i}`, httpMethod: 'GET', path: '/dicom-web/studies', decision: 'allow', reason: 'role-allows',
      principal: principal.id, role: principal.role, method: principal.method, action: route.action, service: route.service,
      studyUid: undefined, seriesUid: undefined, instanceUid: undefined, status: undefined,
    });
    if (!audit.listening) return;
    const o = new RequestOutcome(audit, principal, route, '127.0.0.1', 'GET', '/dicom-web/studies');
    o.sent();
    o.head(head);
    o.body(body);
    o.end({ kind: 'done' });
  };
  for (let i = 0; i < 20_000; i++) one(i); // warm-up
  // Let the engine's flush timers run between slices, as they would in a server.
  const slice = 10_000;
  let cpu = 0;
  for (let done = 0; done < iterations; done += slice) {
    const t = process.cpuUsage();
    for (let i = 0; i < slice; i++) one(done + i);
    const d = process.cpuUsage(t);
    cpu += d.user + d.system;
    await new Promise((r) => setImmediate(r));
  }
  await stop();
  return (cpu * 1000) / iterations;
}

const variants = (process.env['PGW_HOOKS_ONLY']?.split(',') ?? ['none', 'metrics', 'rules', 'both']) as Variant[];
const child = process.env['PGW_HOOKS_CHILD'] as Variant | undefined;
if (child !== undefined) {
  // One variant per process: heaps and caches of the others do not drift into its figure.
  process.stdout.write(`${await run(child)}\n`);
  process.exit(0);
}
const script = fileURLToPath(import.meta.url);
const results = new Map<Variant, number[]>(variants.map((v) => [v, []]));
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const out = execFileSync(process.execPath, [script, '--iterations', String(iterations)], { env: { ...process.env, PGW_HOOKS_CHILD: v }, encoding: 'utf8' });
    results.get(v)?.push(Number(out.trim()));
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const base = median(results.get('none') ?? []);
for (const v of variants) {
  const m = median(results.get(v) ?? []);
  console.log(`${v.padEnd(8)} ${m.toFixed(0).padStart(6)} ns/request  (+${(m - base).toFixed(0)} ns)  rounds ${(results.get(v) ?? []).map((x) => x.toFixed(0)).join(' ')}`);
}
