// Issue 19 §3: many modalities at once. N concurrent mTLS associations storing into Orthanc (gateway vs stunnel),
// and many concurrent DICOMweb clients (gateway vs nginx): aggregate throughput, p99 per instance / request,
// the proxy's peak RSS growth and (gateway) event-loop delay.

import { readFileSync } from 'node:fs';
import { eventLoopDelay } from '../lib/event-loop.js';
import { QIDO_PATH, wadoPath } from '../lib/dataset.js';
import type { GatewayProcess } from '../lib/gateway-process.js';
import { peakRssBytes, resetPeakRss, rssBytes } from '../lib/proc.js';
import type { ScenarioResult } from '../lib/report.js';
import { interleaved, type VariantBase } from '../lib/rounds.js';
import { loadStoreItems, percentile, storeConcurrently, type StoreItem } from '../lib/store-client.js';
import { runWrk } from '../lib/wrk.js';
import { oathtool } from '../../test/helpers/tools.js';
import { UserIdentityType } from '../../src/dicom/constants.js';
import { MB, type BenchContext } from './context.js';

interface Watched extends VariantBase {
  /** The proxy's processes (peak RSS growth is summed over them). */
  readonly pids: () => readonly number[];
  /** The gateway, whose event-loop delay is read around the run. */
  readonly gateway?: GatewayProcess;
}

/** Resets the peak RSS of `pids`; returns their RSS now (bytes). */
function startRss(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      resetPeakRss(pid);
    } catch {
      // not ours to reset (another user): growth is then from the process's lifetime peak
    }
    total += rssBytes(pid);
  }
  return total;
}

const peakOf = (pids: readonly number[]): number => pids.reduce((a, pid) => a + peakRssBytes(pid), 0);

/** Runs `fn` with the proxy's peak RSS growth (MB) and the gateway's event-loop delay (ms) around it. */
async function watched(v: Watched, fn: () => Promise<Record<string, number>>): Promise<Record<string, number>> {
  const pids = v.pids();
  if (v.gateway?.eldFile !== undefined) await eventLoopDelay(v.gateway.pid, v.gateway.eldFile);
  const baseline = startRss(pids);
  const values = await fn();
  const peak = peakOf(pids);
  const eld = v.gateway?.eldFile === undefined ? undefined : await eventLoopDelay(v.gateway.pid, v.gateway.eldFile);
  return {
    ...values, rssGrowthMB: (peak - baseline) / MB, peakRssMB: peak / MB,
    eldP99Ms: eld?.p99 ?? Number.NaN, eldMaxMs: eld?.max ?? Number.NaN,
  };
}

const RSS_ELD_METRICS = [
  { key: 'rssGrowthMB', label: 'peak RSS growth MB', higherIsBetter: false, digits: 1 },
  { key: 'eldP99Ms', label: 'event-loop delay p99 ms', higherIsBetter: false, digits: 1 },
  { key: 'eldMaxMs', label: 'event-loop delay max ms', higherIsBetter: false, digits: 1 },
] as const;

let storeItems: StoreItem[] | undefined;

/**
 * wrk seconds of the untimed warm-up of the many-clients runs: long enough for every client's TLS handshake to be
 * done on a loaded 2-core host (200 handshakes queued on the gateway's one event loop took over 1 s at load 17).
 */
const MANY_WARMUP_SECONDS = 3;

/** `associations` concurrent mTLS associations, each storing `manyPerAssociation` instances of the series → Orthanc. */
export async function storeMany(ctx: BenchContext, associations: number): Promise<ScenarioResult> {
  const { env } = ctx;
  const w = ctx.options.workload;
  storeItems ??= loadStoreItems(env.data.seriesDir);
  const items = storeItems;
  const key = readFileSync(env.id.device.key, 'utf8');
  const cert = readFileSync(env.id.device.cert, 'utf8');
  // User identity only at the smallest count: every association is one scrypt (N=2^17) at A-ASSOCIATE time.
  const withUsers = associations === Math.min(...w.manyAssociations);
  const list: (Watched & { port: number; user: boolean })[] = [
    { id: 'stunnel-mtls', label: 'stunnel mTLS', component: 'stunnel', port: env.stunnelPorts.mtls, pids: () => [env.stunnel.pid], user: false },
    { id: 'gateway-mtls', label: 'gateway mTLS', component: 'gateway', port: env.gateway.dicomPort, pids: () => [env.gateway.pid], gateway: env.gateway, user: false },
    ...(withUsers ? [{ id: 'gateway-user', label: 'gateway user-identity', component: 'gateway', port: env.gateway.dicomPort, pids: () => [env.gateway.pid], gateway: env.gateway, user: true }] : []),
  ];
  const variants = await interleaved({
    variants: list, workload: w, components: env.components, log: ctx.log,
    run: (v) => watched(v, async () => {
      // Users and their TOTP codes before the clock: oathtool is the client's business, not the proxy's.
      const users = v.user ? await Promise.all(Array.from({ length: associations }, async () => {
        const u = ctx.nextIdentityUser();
        return { username: u.username, passcode: `${u.password}${await oathtool(u.totpSecret)}` };
      })) : [];
      const r = await storeConcurrently(items, associations, w.manyPerAssociation, (i) => {
        const u = users[i];
        if (u === undefined) return { port: v.port, calledAe: env.orthanc.aeTitle, ca: env.caPem, key, cert };
        return {
          port: v.port, calledAe: env.orthanc.aeTitle, ca: env.caPem,
          userIdentity: { type: UserIdentityType.UsernameAndPasscode, positiveResponseRequested: false, primary: Buffer.from(u.username), secondary: Buffer.from(u.passcode) },
        };
      });
      return {
        instPerSec: r.instances / r.seconds, mbps: r.bytes / MB / r.seconds, p50Ms: percentile(r.latenciesMs, 50), p99Ms: percentile(r.latenciesMs, 99),
        openSeconds: r.openSeconds, instances: r.instances, bytes: r.bytes,
      };
    }),
    describe: (v) => `${(v['instPerSec'] ?? 0).toFixed(1)} inst/s, p99 ${(v['p99Ms'] ?? 0).toFixed(1)} ms, RSS +${(v['rssGrowthMB'] ?? 0).toFixed(1)} MB, event-loop p99 ${(v['eldP99Ms'] ?? Number.NaN).toFixed(1)} ms`,
  });
  return {
    id: `many-store-${associations}`,
    title: `${associations} concurrent mTLS associations, each storing ${w.manyPerAssociation} × ${(items[0]?.dataset.length ?? 0) / MB > 0 ? ((items[0]?.dataset.length ?? 0) / MB).toFixed(2) : '?'} MB instances → Orthanc (in-process client)`,
    note: `Every association is opened first (TLS + A-ASSOCIATE, all at once; "open s"), then all store at once; throughput is instances (and MB) over the time from the first C-STORE to the last response. p50/p99: one C-STORE from request to response, over every instance of the run. Peak RSS growth: VmHWM of the proxy process reset before the run, minus VmRSS then. Event-loop delay: the gateway's (perf_hooks.monitorEventLoopDelay, 1 ms resolution, over the whole run); stunnel has no event loop. Orthanc's DicomThreadsCount is raised above the number of associations (environment.ts); every association is one device (the bench raises dicom.maxAssociationsPerPrincipal to 500).`,
    metrics: [
      { key: 'instPerSec', label: 'instances/s', higherIsBetter: true, digits: 1 },
      { key: 'mbps', label: 'MB/s', higherIsBetter: true, digits: 1 },
      { key: 'p50Ms', label: 'p50 ms', higherIsBetter: false, digits: 1 },
      { key: 'p99Ms', label: 'p99 ms', higherIsBetter: false, digits: 1 },
      { key: 'openSeconds', label: 'open s', higherIsBetter: false, digits: 2 },
      ...RSS_ELD_METRICS,
    ],
    variants,
  };
}

/** `manyHttpClients` concurrent keep-alive clients (wrk) → static upstream, gateway vs nginx. */
export async function httpMany(ctx: BenchContext, kind: 'qido' | 'wado'): Promise<ScenarioResult> {
  const { env } = ctx;
  const w = ctx.options.workload;
  const clients = w.manyHttpClients;
  const path = kind === 'qido' ? QIDO_PATH : wadoPath(env.data.first);
  const accept = kind === 'qido' ? 'application/dicom+json' : 'multipart/related; type="application/dicom"';
  const list: (Watched & { base: string; headers: Record<string, string> })[] = [
    { id: 'nginx', label: 'nginx TLS', component: 'nginx', base: `https://127.0.0.1:${env.nginxPorts.static}`, headers: {}, pids: () => env.nginx.pids() },
    { id: 'gateway', label: 'gateway bearer', component: 'gateway-fast', base: env.gatewayFast.url, headers: { authorization: `Bearer ${env.tokens.gatewayFast}` }, pids: () => [env.gatewayFast.pid], gateway: env.gatewayFast },
  ];
  const variants = await interleaved({
    variants: list, workload: w, components: env.components, log: ctx.log,
    run: (v, round) => watched(v, async () => {
      const r = await runWrk(ctx.wrkScript, { url: `${v.base}${path}`, connections: clients, threads: ctx.options.wrkThreads, seconds: round < 0 ? MANY_WARMUP_SECONDS : w.manySeconds, headers: { accept, ...v.headers } });
      return { rps: r.rps, p50: r.p50Ms, p99: r.p99Ms, requests: r.requests, timeouts: r.timeouts, mbps: r.bytes / MB / r.seconds };
    }),
    describe: (v) => `${(v['rps'] ?? 0).toFixed(0)} req/s, p99 ${(v['p99'] ?? 0).toFixed(1)} ms, RSS +${(v['rssGrowthMB'] ?? 0).toFixed(1)} MB, event-loop p99 ${(v['eldP99Ms'] ?? Number.NaN).toFixed(1)} ms`,
  });
  return {
    id: `many-${kind}`, title: `${kind === 'qido' ? 'QIDO-RS study search' : 'WADO-RS instance'}, ${clients} concurrent keep-alive clients (wrk -c${clients}) → static upstream`,
    note: `wrk -t${ctx.options.wrkThreads} -c${clients} -d${w.manySeconds}s; every connection opens (TLS handshake) at the start of the run. p99 from wrk, under full load (includes queueing). nginx: one worker, its RSS summed over master and worker.`,
    metrics: [
      { key: 'rps', label: 'req/s', higherIsBetter: true, digits: 0 },
      { key: 'p50', label: 'p50 ms', higherIsBetter: false, digits: 2 },
      { key: 'p99', label: 'p99 ms', higherIsBetter: false, digits: 2 },
      { key: 'mbps', label: 'MB/s', higherIsBetter: true, digits: 1 },
      { key: 'timeouts', label: 'timeouts', higherIsBetter: false, digits: 0 },
      ...RSS_ELD_METRICS,
    ],
    variants,
  };
}
