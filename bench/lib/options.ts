// Command-line options of `npm run bench` and the workload sizes of a full and a --quick run.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './paths.js';

/** Scenario groups that `--only` can select. */
export const SCENARIOS = Object.freeze([
  'store', 'store-fast', 'store-big', 'echo', 'find', 'http', 'latency', 'download', 'memory', 'login', 'viewer', 'as-user', 'many',
] as const);
export type ScenarioId = (typeof SCENARIOS)[number];

/** How much work each scenario does. */
export interface Workload {
  /** Measured rounds per scenario (each round runs every variant once, interleaved). */
  readonly rounds: number;
  /** One untimed run of every variant before the rounds (JIT, caches, TLS session setup). */
  readonly warmup: boolean;
  /** C-STORE: number of instances in one association, and their pixel data size. */
  readonly storeCount: number;
  readonly storeBytes: number;
  /** C-STORE of one big instance: pixel data size. */
  readonly bigBytes: number;
  /** Sequential C-ECHO associations per run. */
  readonly echoCount: number;
  /** C-FIND queries in one association. */
  readonly findCount: number;
  /** wrk: seconds per run at `connections`, and seconds per one-connection latency run. */
  readonly wrkSeconds: number;
  readonly latencySeconds: number;
  readonly connections: number;
  /** Memory: idle associations and keep-alive HTTPS connections held open at once. */
  readonly idleAssociations: number;
  readonly httpSessions: number;
  /** Logins (each a distinct user: a TOTP code is accepted once). */
  readonly logins: number;
  readonly loginConcurrency: number;
  /** Memory: how long to wait after opening (and twice that after closing) before reading RSS. */
  readonly settleMs: number;
  /** The whole bench is stopped (and cleaned up) after this long. */
  readonly deadlineMs: number;
  /** As a user runs it (issue 19 §1): findscu runs (one association each), in-process associations, wrk connections with Connection: close. */
  readonly userFindCount: number;
  readonly userEchoCount: number;
  readonly userQidoConnections: number;
  /** Many at once (issue 19 §3): concurrent storing associations (one scenario per entry), instances each, concurrent HTTP clients, wrk seconds. */
  readonly manyAssociations: readonly number[];
  readonly manyPerAssociation: number;
  readonly manyHttpClients: number;
  readonly manySeconds: number;
}

const FULL: Workload = Object.freeze({
  rounds: 5, warmup: true,
  storeCount: 200, storeBytes: 512 * 1024, bigBytes: 50 * 1024 * 1024,
  echoCount: 200, findCount: 100,
  wrkSeconds: 5, latencySeconds: 3, connections: 32,
  idleAssociations: 200, httpSessions: 200,
  logins: 40, loginConcurrency: 4, settleMs: 1000,
  deadlineMs: 60 * 60_000,
  userFindCount: 20, userEchoCount: 100, userQidoConnections: 8,
  manyAssociations: [50, 200], manyPerAssociation: 4, manyHttpClients: 200, manySeconds: 4,
});

const QUICK: Workload = Object.freeze({
  rounds: 1, warmup: false,
  storeCount: 5, storeBytes: 512 * 1024, bigBytes: 4 * 1024 * 1024,
  echoCount: 3, findCount: 120,
  wrkSeconds: 2, latencySeconds: 1, connections: 32,
  idleAssociations: 10, httpSessions: 10,
  logins: 2, loginConcurrency: 2, settleMs: 200,
  deadlineMs: 5 * 60_000,
  userFindCount: 2, userEchoCount: 3, userQidoConnections: 4,
  manyAssociations: [4, 8], manyPerAssociation: 2, manyHttpClients: 16, manySeconds: 1,
});

export interface BenchOptions {
  readonly quick: boolean;
  readonly workload: Workload;
  /** Scenario groups to run (all when undefined). */
  readonly only: ReadonlySet<ScenarioId> | undefined;
  /** Start the gateways with `node --cpu-prof`; profiles land in `<outDir>/profiles`. */
  readonly profile: boolean;
  /** Where latest.md / latest.json (quick.md / quick.json with --quick) are written. */
  readonly outDir: string;
  /** Keep the temporary directory (configs, logs, Orthanc storage) for inspection. */
  readonly keep: boolean;
  /** nginx `worker_processes` of the TLS proxy: 1 (one event loop, like the gateway) or auto. */
  readonly nginxWorkers: string;
  /** wrk threads (the load generator shares the 2 cores with everything else). */
  readonly wrkThreads: number;
  /** Skip scripts/install-deps.sh (tools are only checked). */
  readonly noInstall: boolean;
  /** Gateway launcher to measure instead of the bench's own build (e.g. another checkout's bin/pacs-gateway.js). */
  readonly gatewayBin: string | undefined;
  /** node flags for the gateways (undefined: the gateway's own RUNTIME_FLAGS, as its launchers set them). */
  readonly gatewayNodeFlags: readonly string[] | undefined;
}

export const USAGE = `Usage: npm run bench -- [options]

  --quick              smoke mode: tiny workloads, one round (a few seconds of measuring)
  --rounds N           measured rounds per scenario (default 5; interleaved A B C A B C …)
  --only a,b           run only these scenario groups: ${SCENARIOS.join(', ')}
  --profile            run the gateways under node --cpu-prof (profiles in <out>/profiles)
  --out DIR            results directory (default bench/results)
  --nginx-workers N    worker_processes of the nginx TLS proxy (default 1; "auto" for one per core)
  --wrk-threads N      wrk threads (default 1)
  --wrk-seconds N      seconds per wrk run at full load (default 5, 2 with --quick)
  --keep               keep the temporary directory (configs, logs, PACS storage)
  --no-install         do not run scripts/install-deps.sh, only check the tools
  --gateway-bin FILE   measure this gateway launcher (e.g. another checkout's bin/pacs-gateway.js)
                       instead of the bench's own build of src/
  --gateway-node-flags="F …"
                       node flags for the gateways instead of the launchers' own
                       (src/cli/runtime-flags.ts); = "" for none, to compare`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new TypeError(`--${name} must be an integer from 1 to 1000, got "${value}"`);
  return n;
}

/** Parses argv (without node and script). Throws TypeError with the usage on bad input. */
export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv], strict: true,
    options: {
      quick: { type: 'boolean' }, rounds: { type: 'string' }, only: { type: 'string' }, profile: { type: 'boolean' },
      out: { type: 'string' }, keep: { type: 'boolean' }, 'nginx-workers': { type: 'string' },
      'wrk-threads': { type: 'string' }, 'wrk-seconds': { type: 'string' }, 'no-install': { type: 'boolean' },
      'gateway-bin': { type: 'string' }, 'gateway-node-flags': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const quick = values.quick === true;
  const base = quick ? QUICK : FULL;
  const workload: Workload = {
    ...base,
    rounds: positiveInt('rounds', values.rounds, base.rounds),
    wrkSeconds: positiveInt('wrk-seconds', values['wrk-seconds'], base.wrkSeconds),
  };
  let only: Set<ScenarioId> | undefined;
  if (values.only !== undefined) {
    only = new Set();
    for (const name of values.only.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      if (!(SCENARIOS as readonly string[]).includes(name)) throw new TypeError(`--only: unknown scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
      only.add(name as ScenarioId);
    }
  }
  const nginxWorkers = values['nginx-workers'] ?? '1';
  if (nginxWorkers !== 'auto' && !/^[1-9][0-9]?$/.test(nginxWorkers)) throw new TypeError(`--nginx-workers must be a number or "auto", got "${nginxWorkers}"`);
  return {
    quick, workload, only,
    profile: values.profile === true,
    outDir: values.out ?? join(ROOT, 'bench', 'results'),
    keep: values.keep === true,
    nginxWorkers,
    wrkThreads: positiveInt('wrk-threads', values['wrk-threads'], 1),
    noInstall: values['no-install'] === true,
    gatewayBin: values['gateway-bin'],
    gatewayNodeFlags: values['gateway-node-flags']?.split(' ').filter((f) => f !== ''),
  };
}

/** True when `id` is selected by --only (or there is no --only). */
export function selected(options: BenchOptions, id: ScenarioId): boolean {
  return options.only === undefined || options.only.has(id);
}
