// `npm run bench`: the gateway side by side with direct access, stunnel and nginx; prints and writes the results table.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from './lib/cleanup.js';
import { checkTools, startEnvironment } from './lib/environment.js';
import type { BenchUser } from './lib/identities.js';
import { parseOptions, selected, USAGE, type BenchOptions, type ScenarioId } from './lib/options.js';
import { ROOT } from './lib/paths.js';
import { machineLoad } from './lib/proc.js';
import { renderMarkdown, type BenchResults, type ScenarioResult, type SummaryTable } from './lib/report.js';
import { wrkScript } from './lib/wrk.js';
import { RUNTIME_FLAGS } from '../src/cli/runtime-flags.js';
import { judgeBars } from './scenarios/bars.js';
import type { BenchContext } from './scenarios/context.js';
import { cpuCostTable } from './scenarios/cpu-cost.js';
import { echoRate, findLatency, storeBig, storeSeries, storeSeriesFast } from './scenarios/dimse.js';
import { download, latency, throughput } from './scenarios/http.js';
import { loginRate } from './scenarios/login.js';
import { associationRateInProcess, findNewAssociation, qidoNewConnection } from './scenarios/as-user.js';
import { httpMany, storeMany } from './scenarios/many.js';
import { memory } from './scenarios/memory.js';
import { prepareViewer, viewerStudyOpen } from './scenarios/viewer.js';

const log = (line: string): void => { process.stderr.write(`${line}\n`); };

/** Which gateway was measured: a given launcher, or this checkout's src/ at its commit (and whether src/ had local changes). */
function gatewayBuild(options: BenchOptions): string {
  if (options.gatewayBin !== undefined) return options.gatewayBin;
  const git = (args: string[]): string => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git(['rev-parse', '--short', 'HEAD']) || 'unknown commit';
  const dirty = git(['status', '--porcelain', '--', 'src']) !== '';
  return `src/ at ${commit}${dirty ? ' with uncommitted changes' : ''}, compiled with the bench`;
}

async function bench(options: BenchOptions, cleanup: Cleanup): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const loadBefore = machineLoad();
  log(`bench: ${options.quick ? 'quick' : 'full'} run, ${options.workload.rounds} round(s); load average ${loadBefore.load1} on ${loadBefore.cpus} CPUs`);
  log('bench: checking tools');
  checkTools(options, log);
  const dir = mkdtempSync(join(tmpdir(), 'pgw-bench-'));
  cleanup.add('temporary directory', () => {
    if (options.keep) log(`bench: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  if (selected(options, 'viewer')) prepareViewer(log);
  log(`bench: starting the environment in ${dir}`);
  const t0 = performance.now();
  const env = await startEnvironment(dir, options, cleanup, log);
  log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  let identityIndex = 0;
  const ctx: BenchContext = {
    env, options, log, wrkScript: wrkScript(dir),
    nextIdentityUser(): BenchUser {
      const u = env.id.identityUsers[identityIndex++];
      if (u === undefined) throw new Error('out of user-identity users (each TOTP code is accepted once)');
      return u;
    },
    sessionTokens: [env.tokens.gatewayFast],
  };

  const scenarios: ScenarioResult[] = [];
  const tables: SummaryTable[] = [];
  const step = async <T>(id: ScenarioId, title: string, fn: () => Promise<T>): Promise<T | undefined> => {
    if (!selected(options, id)) return undefined;
    log(`bench: ${title}`);
    const t0 = performance.now();
    const r = await fn();
    log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return r;
  };
  const push = (r: ScenarioResult | undefined): void => { if (r !== undefined) scenarios.push(r); };

  push(await step('store', 'C-STORE series → Orthanc', () => storeSeries(ctx)));
  push(await step('store-fast', 'C-STORE series → fast SCP', () => storeSeriesFast(ctx)));
  push(await step('store-big', 'C-STORE big instance → Orthanc', () => storeBig(ctx)));
  push(await step('echo', 'C-ECHO association rate', () => echoRate(ctx)));
  push(await step('find', 'C-FIND latency', () => findLatency(ctx)));
  for (const upstream of ['static', 'orthanc'] as const) {
    for (const kind of ['qido', 'wado'] as const) {
      push(await step('http', `${kind.toUpperCase()}-RS throughput → ${upstream}`, () => throughput(ctx, kind, upstream)));
    }
  }
  push(await step('latency', 'QIDO-RS latency, one connection', () => latency(ctx, 'qido')));
  push(await step('latency', 'WADO-RS latency, one connection', () => latency(ctx, 'wado')));
  push(await step('download', 'big WADO-RS download → static upstream', () => download(ctx, 'static')));
  push(await step('download', 'big WADO-RS download → Orthanc', () => download(ctx, 'orthanc')));
  push(await step('as-user', 'C-FIND, a new association per query (findscu)', () => findNewAssociation(ctx)));
  push(await step('as-user', 'association rate, in-process client', () => associationRateInProcess(ctx)));
  push(await step('as-user', 'QIDO-RS, a new TLS connection per request → Orthanc', () => qidoNewConnection(ctx)));
  for (const n of options.workload.manyAssociations) {
    push(await step('many', `${n} concurrent associations storing → Orthanc`, () => storeMany(ctx, n)));
  }
  push(await step('many', `QIDO-RS, ${options.workload.manyHttpClients} concurrent clients`, () => httpMany(ctx, 'qido')));
  push(await step('many', `WADO-RS, ${options.workload.manyHttpClients} concurrent clients`, () => httpMany(ctx, 'wado')));
  push(await step('viewer', 'viewer study open (OHIF) → Orthanc', () => viewerStudyOpen(ctx)));
  const logins = await step('login', 'login rate', () => loginRate(ctx));
  if (logins !== undefined) {
    tables.push(logins.table);
    ctx.sessionTokens.push(...logins.tokens);
  }
  const mem = await step('memory', 'memory with idle connections', () => memory(ctx));
  if (mem !== undefined) tables.push(mem);
  tables.unshift(cpuCostTable(scenarios));

  const loadAfter = machineLoad();
  return {
    mode: options.quick ? 'quick' : 'full',
    startedAt, finishedAt: new Date().toISOString(),
    machine: {
      cpus: loadBefore.cpus,
      'load average before (1 min / 5 min)': `${loadBefore.load1} / ${loadBefore.load5}`,
      'load average after (1 min / 5 min)': `${loadAfter.load1} / ${loadAfter.load5}`,
      ...env.versions,
    },
    settings: {
      rounds: options.workload.rounds,
      warmup: options.workload.warmup,
      'series': `${options.workload.storeCount} × ${options.workload.storeBytes} B pixel data`,
      'big instance': `${options.workload.bigBytes} B pixel data`,
      'wrk': `-t${options.wrkThreads} -c${options.workload.connections} -d${options.workload.wrkSeconds}s`,
      'nginx TLS proxy worker_processes': options.nginxWorkers,
      'gateway CPU profile': options.profile,
      'gateway node flags': (options.gatewayNodeFlags ?? RUNTIME_FLAGS).join(' ') || '(none)',
      gateway: gatewayBuild(options),
    },
    scenarios, tables, bars: judgeBars(scenarios),
  };
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseOptions(process.argv.slice(2));
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    options = parsed;
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const cleanup = new Cleanup();
  const stopOn = (signal: NodeJS.Signals, code: number): void => {
    process.once(signal, () => {
      log(`bench: ${signal}: stopping everything`);
      void cleanup.run().finally(() => process.exit(code));
    });
  };
  stopOn('SIGINT', 130);
  stopOn('SIGTERM', 143);
  const deadline = setTimeout(() => {
    log(`bench: still running after ${options.workload.deadlineMs / 60_000} minutes; giving up`);
    void cleanup.run().finally(() => process.exit(1));
  }, options.workload.deadlineMs);
  deadline.unref();
  try {
    const results = await bench(options, cleanup);
    await cleanup.run();
    const md = renderMarkdown(results);
    mkdirSync(options.outDir, { recursive: true });
    const name = options.quick ? 'quick' : 'latest';
    writeFileSync(join(options.outDir, `${name}.md`), md);
    writeFileSync(join(options.outDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`${md}\n`);
    log(`bench: results written to ${join(options.outDir, `${name}.md`)} and .json${options.profile ? `; CPU profiles in ${join(options.outDir, 'profiles')}` : ''}`);
    return 0;
  } catch (err) {
    log(`bench: FAILED: ${(err as Error).stack ?? String(err)}`);
    await cleanup.run();
    return 1;
  } finally {
    clearTimeout(deadline);
  }
}

process.exitCode = await main();
