// The bars from issue 6 / DESIGN.md "Bars", judged on the medians of this run.

import { fmt, medianOf, variantOf, type BarResult, type ScenarioResult } from '../lib/report.js';

/** The largest PDU relayed in the C-STORE scenarios: 16 KB PDU-length (Orthanc's and dcmtk's default maximum) + 6-byte header. */
export const LARGEST_PDU_BYTES = 16384 + 6;

function ratioBar(scenarios: readonly ScenarioResult[], o: {
  bar: string; scenario: string; key: string; variant: string; peer: string; min: number; higherIsBetter: boolean;
}): BarResult {
  const s = scenarios.find((x) => x.id === o.scenario);
  const target = `≥ ${o.min.toFixed(2)} × ${o.peer}`;
  if (s === undefined) return { bar: o.bar, target, measured: 'not run', verdict: 'n/a' };
  const a = medianOf(variantOf(s, o.variant), o.key);
  const b = medianOf(variantOf(s, o.peer), o.key);
  const ratio = o.higherIsBetter ? a / b : b / a;
  if (!Number.isFinite(ratio)) return { bar: o.bar, target, measured: 'no data', verdict: 'n/a' };
  return { bar: o.bar, target, measured: `${fmt(ratio, 2)} × (${fmt(a, 1)} vs ${fmt(b, 1)})`, verdict: ratio >= o.min ? 'pass' : 'FAIL' };
}

function addedLatencyBar(scenarios: readonly ScenarioResult[], bar: string, scenario: string): BarResult {
  const s = scenarios.find((x) => x.id === scenario);
  const target = 'gateway p99 − nginx p99 ≤ 2 ms';
  if (s === undefined) return { bar, target, measured: 'not run', verdict: 'n/a' };
  const gw = medianOf(variantOf(s, 'gateway'), 'p99');
  const ng = medianOf(variantOf(s, 'nginx'), 'p99');
  const added = gw - ng;
  if (!Number.isFinite(added)) return { bar, target, measured: 'no data', verdict: 'n/a' };
  return { bar, target, measured: `${fmt(added, 2)} ms (${fmt(gw, 2)} vs ${fmt(ng, 2)})`, verdict: added <= 2 ? 'pass' : 'FAIL' };
}

/** p99 of `variant` minus p99 of `peer` on `key`, within `maxMs`. */
function p99Bar(scenarios: readonly ScenarioResult[], o: { bar: string; scenario: string; key: string; variant: string; peer: string; peerLabel: string; maxMs: number }): BarResult {
  const s = scenarios.find((x) => x.id === o.scenario);
  const target = `gateway p99 − ${o.peerLabel} p99 ≤ ${o.maxMs} ms`;
  if (s === undefined) return { bar: o.bar, target, measured: 'not run', verdict: 'n/a' };
  const gw = medianOf(variantOf(s, o.variant), o.key);
  const peer = medianOf(variantOf(s, o.peer), o.key);
  const added = gw - peer;
  if (!Number.isFinite(added)) return { bar: o.bar, target, measured: 'no data', verdict: 'n/a' };
  return { bar: o.bar, target, measured: `${fmt(added, 2)} ms (${fmt(gw, 2)} vs ${fmt(peer, 2)})`, verdict: added <= o.maxMs ? 'pass' : 'FAIL' };
}

/** The gateway's peak RSS growth during the run under `limitMB`. */
function rssGrowthBar(scenarios: readonly ScenarioResult[], bar: string, scenario: string, variant: string, limitMB: number): BarResult {
  const s = scenarios.find((x) => x.id === scenario);
  const target = `peak RSS growth < ${limitMB} MB`;
  if (s === undefined) return { bar, target, measured: 'not run', verdict: 'n/a' };
  const growth = medianOf(variantOf(s, variant), 'rssGrowthMB');
  if (!Number.isFinite(growth)) return { bar, target, measured: 'no data', verdict: 'n/a' };
  return { bar, target, measured: `+${fmt(growth, 1)} MB`, verdict: growth < limitMB ? 'pass' : 'FAIL' };
}

/** Issue 19: the rows of the independent harness as a user runs them (§1), and many at once (§3). */
function issue19Bars(scenarios: readonly ScenarioResult[]): BarResult[] {
  const many = scenarios.filter((s) => /^many-store-\d+$/.test(s.id)).sort((a, b) => Number(a.id.slice(11)) - Number(b.id.slice(11)));
  const largest = many.at(-1);
  return [
    ratioBar(scenarios, { bar: 'goal: C-STORE series → Orthanc (storescu), gateway mTLS vs stunnel mTLS, as a user runs it', scenario: 'store', key: 'mbps', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 1.0, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'goal: C-STORE big instance → Orthanc, gateway mTLS vs stunnel mTLS', scenario: 'store-big', key: 'mbps', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 1.0, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'goal: associations/s, in-process client, gateway mTLS vs stunnel mTLS', scenario: 'user-assoc', key: 'perSecond', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 1.0, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'goal: C-FIND, new association per query, gateway mTLS vs stunnel mTLS', scenario: 'user-find', key: 'msPerQuery', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 1.0, higherIsBetter: false }),
    ratioBar(scenarios, { bar: 'goal: QIDO-RS, new TLS connection per request → Orthanc, gateway vs nginx', scenario: 'user-qido', key: 'rps', variant: 'gateway', peer: 'nginx', min: 1.0, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'goal: WADO-RS big download → Orthanc, time, gateway vs nginx', scenario: 'download-orthanc', key: 'seconds', variant: 'gateway', peer: 'nginx', min: 1.0, higherIsBetter: false }),
    ratioBar(scenarios, { bar: 'goal: WADO-RS big download → Orthanc, first byte, gateway vs nginx', scenario: 'download-orthanc', key: 'firstByteMs', variant: 'gateway', peer: 'nginx', min: 1.0, higherIsBetter: false }),
    ratioBar(scenarios, { bar: 'goal: WADO-RS big download → Orthanc, transfer rate, gateway vs nginx', scenario: 'download-orthanc', key: 'transferMbps', variant: 'gateway', peer: 'nginx', min: 1.0, higherIsBetter: true }),
    ...many.flatMap((s) => {
      const n = s.id.slice('many-store-'.length);
      return [
        ratioBar(scenarios, { bar: `${n} concurrent associations storing: throughput, gateway mTLS vs stunnel mTLS`, scenario: s.id, key: 'instPerSec', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 1.0, higherIsBetter: true }),
        p99Bar(scenarios, { bar: `${n} concurrent associations storing: p99 per instance added over stunnel`, scenario: s.id, key: 'p99Ms', variant: 'gateway-mtls', peer: 'stunnel-mtls', peerLabel: 'stunnel', maxMs: 2 }),
      ];
    }),
    ...(largest === undefined ? [rssGrowthBar(scenarios, 'concurrent associations storing: gateway memory', 'many-store-200', 'gateway-mtls', 100)]
      : [rssGrowthBar(scenarios, `${largest.id.slice('many-store-'.length)} concurrent associations storing: gateway memory`, largest.id, 'gateway-mtls', 100)]),
    ...(['qido', 'wado'] as const).flatMap((k) => {
      const name = k === 'qido' ? 'QIDO-RS' : 'WADO-RS';
      return [
        ratioBar(scenarios, { bar: `${name}, many concurrent clients: req/s, gateway vs nginx`, scenario: `many-${k}`, key: 'rps', variant: 'gateway', peer: 'nginx', min: 1.0, higherIsBetter: true }),
        p99Bar(scenarios, { bar: `${name}, many concurrent clients: p99 added over nginx`, scenario: `many-${k}`, key: 'p99', variant: 'gateway', peer: 'nginx', peerLabel: 'nginx', maxMs: 2 }),
      ];
    }),
  ];
}

function rssBar(scenarios: readonly ScenarioResult[], variant: string, label: string, scryptAtAssociation = false): BarResult {
  const s = scenarios.find((x) => x.id === 'store-big');
  const limit = (2 * LARGEST_PDU_BYTES) / 1e6;
  const target = `peak RSS growth < 2 × largest PDU (${fmt(limit * 1000, 1)} KB)`;
  if (s === undefined) return { bar: `big instance, ${label}: memory flat`, target, measured: 'not run', verdict: 'n/a' };
  const growth = medianOf(variantOf(s, variant), 'rssGrowthMB');
  const size = medianOf(variantOf(s, variant), 'bytes');
  if (!Number.isFinite(growth)) return { bar: `big instance, ${label}: memory flat`, target, measured: 'no data', verdict: 'n/a' };
  const measured = `+${fmt(growth, 2)} MB (${fmt((growth * 1e6) / LARGEST_PDU_BYTES, 0)} × PDU, ${fmt((growth * 1e6 * 100) / size, 1)} % of the instance)`;
  if (scryptAtAssociation) {
    // The password check allocates scrypt's 128 MiB at association time, before any data flows.
    return { bar: `${fmt(size / 1e6, 0)} MB instance, ${label}: memory flat`, target, measured: `${measured}: the scrypt password check (128 MiB), not the transfer`, verdict: 'n/a' };
  }
  return { bar: `${fmt(size / 1e6, 0)} MB instance, ${label}: memory flat`, target, measured, verdict: growth < limit ? 'pass' : 'FAIL' };
}

/** Every bar, plus the goals, in the order of the issue. */
export function judgeBars(scenarios: readonly ScenarioResult[]): BarResult[] {
  return [
    ratioBar(scenarios, { bar: 'C-STORE series → Orthanc: gateway mTLS vs stunnel mTLS', scenario: 'store', key: 'mbps', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 0.9, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'goal: same, ≥ 1.0', scenario: 'store', key: 'mbps', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 1.0, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'C-STORE series → fast SCP (no PACS time): gateway mTLS vs stunnel mTLS', scenario: 'store-fast', key: 'mbps', variant: 'gateway-mtls', peer: 'stunnel-mtls', min: 0.9, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'WADO-RS req/s → static upstream: gateway vs nginx TLS', scenario: 'wado-static', key: 'rps', variant: 'gateway', peer: 'nginx', min: 0.8, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'QIDO-RS req/s → static upstream: gateway vs nginx TLS', scenario: 'qido-static', key: 'rps', variant: 'gateway', peer: 'nginx', min: 0.8, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'goal: WADO-RS req/s → Orthanc, gateway vs nginx', scenario: 'wado-orthanc', key: 'rps', variant: 'gateway', peer: 'nginx', min: 1.0, higherIsBetter: true }),
    ratioBar(scenarios, { bar: 'goal: QIDO-RS req/s → Orthanc, gateway vs nginx', scenario: 'qido-orthanc', key: 'rps', variant: 'gateway', peer: 'nginx', min: 1.0, higherIsBetter: true }),
    addedLatencyBar(scenarios, 'QIDO-RS p99 added over nginx, 1 connection', 'latency-qido'),
    addedLatencyBar(scenarios, 'WADO-RS p99 added over nginx, 1 connection', 'latency-wado'),
    addedLatencyBar(scenarios, 'QIDO-RS p99 added over nginx, 32 connections (includes queueing)', 'qido-static'),
    addedLatencyBar(scenarios, 'WADO-RS p99 added over nginx, 32 connections (includes queueing)', 'wado-static'),
    rssBar(scenarios, 'gateway-mtls', 'gateway mTLS'),
    rssBar(scenarios, 'gateway-user', 'gateway user-identity', true),
    ...issue19Bars(scenarios),
  ];
}
