// Issue 19 §1: the rows of the independent harness, run as a user runs them: C-FIND with a new association per
// query (findscu, default flags), associations/s with an in-process association client, QIDO-RS with a new TLS
// connection per request (wrk, Connection: close). The other rows (C-STORE series and big instance with storescu,
// WADO-RS at 32 connections, the big WADO-RS download with first byte and transfer rate) are `store`, `store-big`,
// `wado-orthanc` and `download-orthanc`, which already run that way.

import { readFileSync } from 'node:fs';
import { addressArgs, dcmtk, securityArgs, type DicomPeer } from '../lib/dcmtk.js';
import { QIDO_PATH, SERIES_PATIENT } from '../lib/dataset.js';
import type { ScenarioResult } from '../lib/report.js';
import { interleaved, type VariantBase } from '../lib/rounds.js';
import { echoAssociations } from '../lib/store-client.js';
import { markGateway, markNginx, resumedPercent, type HandshakeMark } from '../lib/resumption.js';
import { NGINX_PROXY_ACCESS_LOG } from '../lib/nginx.js';
import { median } from '../lib/stats.js';
import { runWrk } from '../lib/wrk.js';
import { run } from '../../test/helpers/tools.js';
import type { BenchContext } from './context.js';

interface DicomVariant extends VariantBase { readonly port: number; readonly security: 'plain' | 'mtls' }

function dicomVariants(ctx: BenchContext, withDirect: boolean): DicomVariant[] {
  const { env } = ctx;
  return [
    ...(withDirect ? [{ id: 'direct', label: 'direct', port: env.orthanc.dicomPort, security: 'plain' as const }] : []),
    { id: 'stunnel-mtls', label: 'stunnel mTLS', component: 'stunnel', port: env.stunnelPorts.mtls, security: 'mtls' },
    { id: 'gateway-mtls', label: 'gateway mTLS', component: 'gateway', port: env.gateway.dicomPort, security: 'mtls' },
  ];
}

/** C-FIND study query, one findscu process (one TLS handshake, one association) per query. */
export async function findNewAssociation(ctx: BenchContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const n = ctx.options.workload.userFindCount;
  const query = ['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `PatientID=${SERIES_PATIENT}`, '-k', 'StudyInstanceUID', '-k', 'StudyDate', '-k', 'PatientName'];
  const variants = await interleaved({
    variants: dicomVariants(ctx, true), workload: ctx.options.workload, components: env.components, log: ctx.log,
    run: async (v) => {
      const peer: DicomPeer = { port: v.port, calledAe: env.orthanc.aeTitle, security: { kind: v.security } };
      const args = [...(await securityArgs(peer, env.id)), ...query, ...addressArgs(peer)];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await dcmtk('findscu', args, 60_000);
      const ms = (performance.now() - t0) / n;
      return { msPerQuery: ms, queries: n };
    },
    describe: (v) => `${(v['msPerQuery'] ?? 0).toFixed(1)} ms/query`,
  });
  return {
    id: 'user-find', title: `C-FIND study query, a new association per query (${n} × findscu, default flags)`,
    note: 'What a user\'s script does: one findscu process per query, so every query pays process start, TCP + TLS handshake, A-ASSOCIATE and A-RELEASE. The independent harness\'s "C-FIND, new association per query" row. `find` measures the query alone inside one association.',
    metrics: [
      { key: 'msPerQuery', label: 'ms/query', higherIsBetter: false, digits: 1 },
    ],
    variants,
  };
}

/** Associations/s with an in-process client (node tls): TLS + A-ASSOCIATE + C-ECHO + A-RELEASE, one after another. */
export async function associationRateInProcess(ctx: BenchContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const n = ctx.options.workload.userEchoCount;
  const key = readFileSync(env.id.device.key, 'utf8');
  const cert = readFileSync(env.id.device.cert, 'utf8');
  const variants = await interleaved({
    variants: dicomVariants(ctx, false), workload: ctx.options.workload, components: env.components, log: ctx.log,
    run: async (v) => {
      const seconds = await echoAssociations({ port: v.port, calledAe: env.orthanc.aeTitle, ca: env.caPem, key, cert }, n);
      return { perSecond: n / seconds, msEach: (seconds * 1000) / n, associations: n };
    },
    describe: (v) => `${(v['perSecond'] ?? 0).toFixed(1)} associations/s`,
  });
  return {
    id: 'user-assoc', title: `Association rate with an in-process client: ${n} sequential mTLS associations (TLS, A-ASSOCIATE, C-ECHO, A-RELEASE)`,
    note: 'No process start per association (unlike `echo`, one echoscu each), so the handshake and the association set-up are most of the time. No session resumption: every association is a full TLS handshake with RSA 2048 certificates of the kind `pacs-gateway certs` issues.',
    metrics: [
      { key: 'perSecond', label: 'associations/s', higherIsBetter: true, digits: 1 },
      { key: 'msEach', label: 'ms each', higherIsBetter: false, digits: 2 },
    ],
    variants,
  };
}

/** QIDO-RS with a new TLS connection per request (wrk with Connection: close) → Orthanc. */
export async function qidoNewConnection(ctx: BenchContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const w = ctx.options.workload;
  const connections = w.userQidoConnections;
  const list: (VariantBase & { base: string; headers: Record<string, string> })[] = [
    { id: 'direct', label: 'direct', base: env.orthanc.httpUrl, headers: {} },
    { id: 'nginx', label: 'nginx TLS', component: 'nginx', base: `https://127.0.0.1:${env.nginxPorts.orthanc}`, headers: {} },
    { id: 'gateway', label: 'gateway bearer', component: 'gateway', base: env.gateway.url, headers: { authorization: `Bearer ${env.tokens.gateway}` } },
  ];
  const variants = await interleaved({
    variants: list, workload: w, components: env.components, log: ctx.log,
    run: async (v, round) => {
      // wrk keeps each connection's TLS session and offers it on the next connection (SSL_clear), as a
      // client with a session cache does: count how many handshakes the server let it resume.
      const mark: HandshakeMark | undefined = v.id === 'gateway' ? await markGateway(env.gateway.metricsPort) : v.id === 'nginx' ? markNginx(NGINX_PROXY_ACCESS_LOG(env.dir)) : undefined;
      const r = await runWrk(ctx.wrkScript, {
        url: `${v.base}${QIDO_PATH}`, connections, threads: 1, seconds: round < 0 ? 1 : w.latencySeconds,
        headers: { accept: 'application/dicom+json', connection: 'close', ...v.headers }, closeEachRequest: true,
      });
      const resumed = mark === undefined ? Number.NaN : resumedPercent(await mark.since());
      // Where one request's time goes, from curl's timers (one request at a time, a new connection each).
      const times = { tls: [] as number[], firstByte: [] as number[], total: [] as number[] };
      // HTTP/1.1 for every variant, as wrk speaks: curl would pick h2 by ALPN on the gateway (http.http2)
      // but HTTP/1.1 on nginx's proxy (no http2 there), and compare two protocols (docs/benchmarks.md).
      const args = ['-sS', '--http1.1', '-o', '/dev/null', '-w', '%{http_code} %{time_appconnect} %{time_starttransfer} %{time_total}', '--cacert', env.id.caFile, '-H', 'accept: application/dicom+json'];
      for (const [k, val] of Object.entries(v.headers)) args.push('-H', `${k}: ${val}`);
      for (let i = 0; i < 5; i++) {
        const c = await run('curl', [...args, `${v.base}${QIDO_PATH}`], { timeoutMs: 30_000 });
        const [status, tls, first, total] = c.stdout.trim().split(' ').map(Number);
        if (c.code !== 0 || status !== 200) throw new Error(`curl ${v.label}: exit ${String(c.code)}, HTTP ${String(status)}: ${c.stderr.trim()}`);
        times.tls.push((tls ?? Number.NaN) * 1000);
        times.firstByte.push((first ?? Number.NaN) * 1000);
        times.total.push((total ?? Number.NaN) * 1000);
      }
      return { rps: r.rps, p50: r.p50Ms, p99: r.p99Ms, requests: r.requests, resumedPct: resumed, curlTlsMs: median(times.tls), curlFirstByteMs: median(times.firstByte), curlTotalMs: median(times.total) };
    },
    describe: (v) => `${(v['rps'] ?? 0).toFixed(0)} req/s, p99 ${(v['p99'] ?? 0).toFixed(1)} ms, ${(v['resumedPct'] ?? Number.NaN).toFixed(0)} % resumed; curl: TLS ${(v['curlTlsMs'] ?? 0).toFixed(1)}, first byte ${(v['curlFirstByteMs'] ?? 0).toFixed(1)}, total ${(v['curlTotalMs'] ?? 0).toFixed(1)} ms`,
  });
  return {
    id: 'user-qido', title: `QIDO-RS study search, a new TLS connection per request (wrk -c${connections}, Connection: close) → Orthanc`,
    note: 'A new TLS connection per request. wrk offers each connection\'s TLS session again on its next connection, so the server decides how many resume ("resumed %": nginx from its access log, the gateway from pacs_gateway_tls_handshakes_total): nginx sends a new TLS 1.3 ticket on every resumed handshake, node sends none, so wrk resumes every other connection to the gateway and nearly all to nginx (docs/benchmarks.md, "Resumption"). A script with curl or requests and no session cache resumes none. `qido-orthanc` reuses 32 keep-alive connections. The curl columns: after each wrk run, 5 single requests with curl over HTTP/1.1, as wrk (a new connection each), median of time_appconnect, time_starttransfer and time_total.',
    metrics: [
      { key: 'rps', label: 'req/s', higherIsBetter: true, digits: 0 },
      { key: 'p50', label: 'p50 ms', higherIsBetter: false, digits: 2 },
      { key: 'p99', label: 'p99 ms', higherIsBetter: false, digits: 2 },
      { key: 'resumedPct', label: 'resumed %', higherIsBetter: true, digits: 0 },
      { key: 'curlTlsMs', label: 'curl TLS done ms', higherIsBetter: false, digits: 1 },
      { key: 'curlFirstByteMs', label: 'curl first byte ms', higherIsBetter: false, digits: 1 },
      { key: 'curlTotalMs', label: 'curl total ms', higherIsBetter: false, digits: 1 },
    ],
    variants,
  };
}
