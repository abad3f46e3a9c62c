// CPU cost of each proxy per unit of work, from the CPU time read around every measured run.

import { fmt, variantOf, type ScenarioResult, type SummaryTable } from '../lib/report.js';
import type { VariantSamples } from '../lib/rounds.js';
import { sum } from '../lib/stats.js';

interface CostRow {
  readonly label: string;
  readonly scenario: string;
  /** The sample value that counts the work (requests, bytes, associations). */
  readonly unitKey: string;
  /** Report CPU seconds per this many units. */
  readonly per: number;
  readonly peer: { readonly column: 'nginx' | 'stunnel'; readonly variant: string };
  readonly gatewayVariant: string;
}

const ROWS: readonly CostRow[] = [
  { label: 'QIDO-RS, per 1,000 requests (static upstream, wrk)', scenario: 'qido-static', unitKey: 'requests', per: 1000, peer: { column: 'nginx', variant: 'nginx' }, gatewayVariant: 'gateway' },
  { label: 'WADO-RS, per 1,000 requests (static upstream, wrk)', scenario: 'wado-static', unitKey: 'requests', per: 1000, peer: { column: 'nginx', variant: 'nginx' }, gatewayVariant: 'gateway' },
  { label: 'WADO-RS, per GB (static upstream, wrk)', scenario: 'wado-static', unitKey: 'bytes', per: 1e9, peer: { column: 'nginx', variant: 'nginx' }, gatewayVariant: 'gateway' },
  { label: 'WADO-RS big download, per GB (static upstream, curl)', scenario: 'download-static', unitKey: 'bytes', per: 1e9, peer: { column: 'nginx', variant: 'nginx' }, gatewayVariant: 'gateway' },
  { label: 'C-STORE series, per GB (fast SCP)', scenario: 'store-fast', unitKey: 'bytes', per: 1e9, peer: { column: 'stunnel', variant: 'stunnel-mtls' }, gatewayVariant: 'gateway-mtls' },
  { label: 'C-STORE series, per GB (Orthanc)', scenario: 'store', unitKey: 'bytes', per: 1e9, peer: { column: 'stunnel', variant: 'stunnel-mtls' }, gatewayVariant: 'gateway-mtls' },
  { label: 'C-STORE big instance, per GB (Orthanc)', scenario: 'store-big', unitKey: 'bytes', per: 1e9, peer: { column: 'stunnel', variant: 'stunnel-mtls' }, gatewayVariant: 'gateway-mtls' },
  { label: 'C-ECHO associations (mTLS), per 1,000 associations', scenario: 'echo', unitKey: 'associations', per: 1000, peer: { column: 'stunnel', variant: 'stunnel-mtls' }, gatewayVariant: 'gateway-mtls' },
];

/** Total CPU seconds of the variant's own component per `per` units, over all its measured runs. */
export function cpuPer(v: VariantSamples | undefined, unitKey: string, per: number): number {
  if (v?.component === undefined) return Number.NaN;
  const component = v.component;
  const cpu = sum(v.samples.map((s) => s.cpu[component] ?? Number.NaN));
  const units = sum(v.samples.map((s) => s.values[unitKey] ?? Number.NaN));
  return units > 0 ? (cpu / units) * per : Number.NaN;
}

/** The CPU table for whichever scenarios ran. */
export function cpuCostTable(scenarios: readonly ScenarioResult[]): SummaryTable {
  const rows: string[][] = [];
  for (const r of ROWS) {
    const s = scenarios.find((x) => x.id === r.scenario);
    if (s === undefined) continue;
    const peer = cpuPer(variantOf(s, r.peer.variant), r.unitKey, r.per);
    const gw = cpuPer(variantOf(s, r.gatewayVariant), r.unitKey, r.per);
    rows.push([
      r.label,
      r.peer.column === 'nginx' ? fmt(peer, 3) : '—',
      r.peer.column === 'stunnel' ? fmt(peer, 3) : '—',
      fmt(gw, 3),
      fmt(gw / peer, 2),
    ]);
  }
  return {
    id: 'cpu', title: 'CPU seconds per unit of work',
    note: 'utime + stime of the proxy process(es) from /proc/PID/stat (nginx: master + workers; the gateway: all its threads), summed over every measured run and divided by the work done. Lower is better; the last column is gateway ÷ peer (above 1: the gateway spends more CPU).',
    header: ['workload', 'nginx', 'stunnel', 'gateway', 'gateway ÷ peer'],
    rows,
  };
}
