// Results: the scenario tables (medians, spread, ratio to every peer), summary tables and bars, as markdown and JSON.

import { median, speedRatio, spread } from './stats.js';
import type { VariantSamples } from './rounds.js';

/** A metric a scenario reports for each run. */
export interface MetricDef {
  readonly key: string;
  /** Column header, with its unit, e.g. "MB/s" or "p99 ms". */
  readonly label: string;
  readonly higherIsBetter: boolean;
  readonly digits: number;
}

/** One scenario: its variants' samples; ratios are computed on the first metric. */
export interface ScenarioResult {
  /** Short stable id, printed in the heading as (`id`). */
  readonly id: string;
  readonly title: string;
  readonly note?: string;
  readonly metrics: readonly MetricDef[];
  readonly variants: readonly VariantSamples[];
}

/** A free-form table (CPU cost, memory, logins). */
export interface SummaryTable {
  readonly id: string;
  readonly title: string;
  readonly note?: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface BarResult {
  readonly bar: string;
  readonly target: string;
  readonly measured: string;
  readonly verdict: 'pass' | 'FAIL' | 'n/a';
}

export interface BenchResults {
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: Readonly<Record<string, string | number>>;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly scenarios: readonly ScenarioResult[];
  readonly tables: readonly SummaryTable[];
  readonly bars: readonly BarResult[];
}

/** Formats a number with `digits` decimals; "n/a" for NaN. */
export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toFixed(digits);
}

/** Median of one metric of one variant. */
export function medianOf(v: VariantSamples | undefined, key: string): number {
  return v === undefined ? Number.NaN : median(v.samples.map((s) => s.values[key] ?? Number.NaN));
}

/** The variant with this id in a scenario. */
export function variantOf(s: ScenarioResult | undefined, id: string): VariantSamples | undefined {
  return s?.variants.find((v) => v.id === id);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The markdown table of one scenario. */
export function scenarioTable(s: ScenarioResult): string {
  const [primary, ...others] = s.metrics;
  if (primary === undefined) return '';
  const header = [
    'variant', primary.label, `${primary.label} min–max`, ...others.map((m) => m.label), 'runs',
    ...s.variants.map((v) => `× ${v.label}`),
  ];
  const rows = s.variants.map((v) => {
    const p = medianOf(v, primary.key);
    const [lo, hi] = spread(v.samples.map((x) => x.values[primary.key] ?? Number.NaN));
    return [
      v.label, fmt(p, primary.digits), `${fmt(lo, primary.digits)}–${fmt(hi, primary.digits)}`,
      ...others.map((m) => fmt(medianOf(v, m.key), m.digits)), String(v.samples.length),
      ...s.variants.map((peer) => (peer === v ? '—' : fmt(speedRatio(p, medianOf(peer, primary.key), primary.higherIsBetter), 2))),
    ];
  });
  return table(header, rows);
}

/** The whole report as markdown. */
export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [];
  out.push(`# pacs-gateway benchmark (${r.mode})`, '');
  out.push(`Started ${r.startedAt}, finished ${r.finishedAt}.`, '');
  out.push(table(['machine', 'value'], Object.entries(r.machine).map(([k, v]) => [k, String(v)])), '');
  out.push(table(['setting', 'value'], Object.entries(r.settings).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])), '');
  out.push('Values are medians over the rounds. A "× peer" column is the speed relative to that peer on the first',
    'metric: above 1 is faster (more per second, or less time) than the peer, below 1 slower.', '');
  out.push('## Bars', '', table(['bar', 'target', 'measured', 'verdict'], r.bars.map((b) => [b.bar, b.target, b.measured, b.verdict])), '');
  out.push('## Scenarios', '');
  for (const s of r.scenarios) {
    out.push(`### ${s.title} (\`${s.id}\`)`, '');
    if (s.note !== undefined) out.push(s.note, '');
    out.push(scenarioTable(s), '');
  }
  for (const t of r.tables) {
    out.push(`### ${t.title} (\`${t.id}\`)`, '');
    if (t.note !== undefined) out.push(t.note, '');
    out.push(table(t.header, t.rows), '');
  }
  return out.join('\n');
}
