// DICOMweb scenarios: QIDO-RS / WADO-RS requests per second and latency (wrk), and a big WADO-RS download (curl).

import { run } from '../../test/helpers/tools.js';
import { QIDO_PATH, wadoPath } from '../lib/dataset.js';
import type { ScenarioResult } from '../lib/report.js';
import { interleaved, type VariantBase } from '../lib/rounds.js';
import { runWrk } from '../lib/wrk.js';
import { MB, type BenchContext } from './context.js';

interface HttpVariant extends VariantBase {
  /** Server root, e.g. https://127.0.0.1:8443 */
  readonly base: string;
  readonly headers: Record<string, string>;
}

type Upstream = 'orthanc' | 'static';

/** wrk seconds of the untimed warm-up run of each variant. */
const WARMUP_SECONDS = 2;

function variantsFor(ctx: BenchContext, upstream: Upstream): HttpVariant[] {
  const { env } = ctx;
  const fast = upstream === 'static';
  const directBase = fast ? `http://127.0.0.1:${env.staticPort}` : env.orthanc.httpUrl;
  const gateway = fast ? env.gatewayFast : env.gateway;
  const token = fast ? env.tokens.gatewayFast : env.tokens.gateway;
  // In front of the static upstream also two proxies with none of the gateway's logic: what node itself costs.
  const floors: HttpVariant[] = fast ? [
    { id: 'node-proxy', label: 'bare node proxy', component: 'floor-node', base: `https://127.0.0.1:${env.floorPorts.node}`, headers: {} },
    { id: 'fastify-proxy', label: 'bare fastify proxy', component: 'floor-fastify', base: `https://127.0.0.1:${env.floorPorts.fastify}`, headers: {} },
  ] : [];
  return [
    { id: 'direct', label: 'direct', base: directBase, headers: {} },
    { id: 'nginx', label: 'nginx TLS', component: 'nginx', base: `https://127.0.0.1:${fast ? env.nginxPorts.static : env.nginxPorts.orthanc}`, headers: {} },
    ...floors,
    { id: 'gateway', label: 'gateway bearer', component: fast ? 'gateway-fast' : 'gateway', base: gateway.url, headers: { authorization: `Bearer ${token}` } },
  ];
}

const UPSTREAM_NAME: Record<Upstream, string> = { orthanc: 'Orthanc', static: 'static upstream (nginx, fixed answers)' };

/** Requests/s and latency at `connections` keep-alive connections. */
export async function throughput(ctx: BenchContext, kind: 'qido' | 'wado', upstream: Upstream): Promise<ScenarioResult> {
  const w = ctx.options.workload;
  const path = kind === 'qido' ? QIDO_PATH : wadoPath(ctx.env.data.first);
  const accept = kind === 'qido' ? 'application/dicom+json' : 'multipart/related; type="application/dicom"';
  const variants = await interleaved({
    variants: variantsFor(ctx, upstream), workload: w, components: ctx.env.components, log: ctx.log,
    run: async (v, round) => {
      const r = await runWrk(ctx.wrkScript, {
        url: `${v.base}${path}`, connections: w.connections, threads: ctx.options.wrkThreads, seconds: round < 0 ? WARMUP_SECONDS : w.wrkSeconds,
        headers: { accept, ...v.headers },
      });
      return { rps: r.rps, p50: r.p50Ms, p99: r.p99Ms, requests: r.requests, bytes: r.bytes, timeouts: r.timeouts, mbps: r.bytes / MB / r.seconds };
    },
    describe: (v) => `${(v['rps'] ?? 0).toFixed(0)} req/s, p50 ${(v['p50'] ?? 0).toFixed(2)} ms, p99 ${(v['p99'] ?? 0).toFixed(2)} ms`,
  });
  const withCpu = variants.map((v) => ({
    ...v,
    samples: v.samples.map((x) => ({
      ...x, values: { ...x.values, cpuMsPerReq: v.component === undefined ? Number.NaN : ((x.cpu[v.component] ?? Number.NaN) / (x.values['requests'] ?? Number.NaN)) * 1000 },
    })),
  }));
  const name = kind === 'qido' ? 'QIDO-RS study search' : `WADO-RS instance (${(ctx.env.data.seriesBytes / ctx.env.data.seriesCount / MB).toFixed(2)} MB multipart)`;
  return {
    id: `${kind}-${upstream}`, title: `${name}, ${w.connections} keep-alive connections (wrk) → ${UPSTREAM_NAME[upstream]}`,
    note: `wrk -t${ctx.options.wrkThreads} -c${w.connections} -d${w.wrkSeconds}s; latency percentiles from wrk (under full load, so they include queueing). "proxy CPU ms/req": CPU time of the proxy process(es) per request.${upstream === 'static' ? ' "bare node proxy" and "bare fastify proxy" are reference proxies without any gateway logic (bench/floor-proxy.ts).' : ''}`,
    metrics: [
      { key: 'rps', label: 'req/s', higherIsBetter: true, digits: 0 },
      { key: 'p50', label: 'p50 ms', higherIsBetter: false, digits: 2 },
      { key: 'p99', label: 'p99 ms', higherIsBetter: false, digits: 2 },
      { key: 'mbps', label: 'MB/s', higherIsBetter: true, digits: 1 },
      { key: 'cpuMsPerReq', label: 'proxy CPU ms/req', higherIsBetter: false, digits: 3 },
      { key: 'timeouts', label: 'timeouts', higherIsBetter: false, digits: 0 },
    ],
    variants: withCpu,
  };
}

/** One connection, back-to-back requests: the latency each hop adds when nothing queues. */
export async function latency(ctx: BenchContext, kind: 'qido' | 'wado'): Promise<ScenarioResult> {
  const w = ctx.options.workload;
  const path = kind === 'qido' ? QIDO_PATH : wadoPath(ctx.env.data.first);
  const variants = await interleaved({
    variants: variantsFor(ctx, 'static'), workload: w, components: ctx.env.components, log: ctx.log,
    run: async (v, round) => {
      const r = await runWrk(ctx.wrkScript, { url: `${v.base}${path}`, connections: 1, threads: 1, seconds: round < 0 ? WARMUP_SECONDS : w.latencySeconds, headers: v.headers });
      return { p50: r.p50Ms, p99: r.p99Ms, rps: r.rps, requests: r.requests };
    },
    describe: (v) => `p50 ${(v['p50'] ?? 0).toFixed(3)} ms, p99 ${(v['p99'] ?? 0).toFixed(3)} ms`,
  });
  return {
    id: `latency-${kind}`, title: `${kind === 'qido' ? 'QIDO-RS' : 'WADO-RS'} latency on one connection (wrk -c1) → static upstream`,
    note: 'One keep-alive connection, one request at a time: the p99 here is the latency a hop adds without queueing.',
    metrics: [
      { key: 'p99', label: 'p99 ms', higherIsBetter: false, digits: 3 },
      { key: 'p50', label: 'p50 ms', higherIsBetter: false, digits: 3 },
      { key: 'rps', label: 'req/s', higherIsBetter: true, digits: 0 },
    ],
    variants,
  };
}

/** Downloads the big instance once per run with curl (new connection, TLS handshake included). */
export async function download(ctx: BenchContext, upstream: Upstream): Promise<ScenarioResult> {
  const { env } = ctx;
  const path = wadoPath(env.data.big);
  const variants = await interleaved({
    variants: variantsFor(ctx, upstream), workload: ctx.options.workload, components: env.components, log: ctx.log,
    run: async (v) => {
      const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total} %{time_starttransfer} %{time_appconnect}', '--cacert', env.id.caFile];
      for (const [k, val] of Object.entries(v.headers)) args.push('-H', `${k}: ${val}`);
      const r = await run('curl', [...args, `${v.base}${path}`], { timeoutMs: 300_000 });
      const [status, size, total, firstByte, tls] = r.stdout.trim().split(' ').map(Number);
      if (r.code !== 0 || status !== 200 || size === undefined || total === undefined || size < env.data.bigBytes) {
        throw new Error(`curl ${v.label} ${path}: exit ${String(r.code)}, HTTP ${String(status)}, ${String(size)} bytes: ${r.stderr.trim()}`);
      }
      const fb = firstByte ?? Number.NaN;
      // After the first byte: the body's transfer rate alone (handshake and the upstream's time to answer left out).
      return { mbps: size / MB / total, seconds: total, bytes: size, firstByteMs: fb * 1000, tlsMs: (tls ?? Number.NaN) * 1000, transferMbps: size / MB / (total - fb) };
    },
    describe: (v) => `${(v['mbps'] ?? 0).toFixed(0)} MB/s`,
  });
  return {
    id: `download-${upstream}`, title: `WADO-RS download of the ${(env.data.bigBytes / MB).toFixed(0)} MB instance (curl) → ${UPSTREAM_NAME[upstream]}`,
    note: 'curl\'s total time: connect, TLS handshake, request, whole multipart body. "first byte ms": curl\'s time_starttransfer (connect, handshake, the proxy\'s checks and the upstream\'s time to the first byte of the answer); "TLS done ms": time_appconnect; "transfer MB/s": size ÷ (total − first byte), the body\'s rate alone.',
    metrics: [
      { key: 'mbps', label: 'MB/s', higherIsBetter: true, digits: 0 },
      { key: 'seconds', label: 'seconds', higherIsBetter: false, digits: 3 },
      { key: 'firstByteMs', label: 'first byte ms', higherIsBetter: false, digits: 1 },
      { key: 'tlsMs', label: 'TLS done ms', higherIsBetter: false, digits: 1 },
      { key: 'transferMbps', label: 'transfer MB/s', higherIsBetter: true, digits: 0 },
    ],
    variants,
  };
}
