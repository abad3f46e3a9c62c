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
  ];
}
