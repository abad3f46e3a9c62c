// Runs variants side by side: an untimed warm-up of each, then rounds A B C, B C A, … with CPU time read around every run.

import type { Workload } from './options.js';
import { cpuSeconds } from './proc.js';

/** Named groups of processes whose CPU time is read around every run. */
export type Components = Readonly<Record<string, () => readonly number[]>>;

/** One measured run of one variant. */
export interface Sample {
  readonly round: number;
  /** The run's metrics (scenario-defined keys: MB/s, req/s, ms, …). */
  readonly values: Readonly<Record<string, number>>;
  /** CPU seconds each component used during the run. */
  readonly cpu: Readonly<Record<string, number>>;
  readonly wallSeconds: number;
}

export interface VariantSamples {
  readonly id: string;
  readonly label: string;
  /** The component whose CPU time is this variant's proxy cost (none for direct access). */
  readonly component?: string;
  readonly samples: Sample[];
}

/** What `interleaved` needs of a variant. */
export interface VariantBase { readonly id: string; readonly label: string; readonly component?: string }

/** CPU seconds of every component now (summed over its processes). */
export function cpuNow(components: Components): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(components)) {
    let total = 0;
    for (const pid of pids()) {
      const s = cpuSeconds(pid);
      if (Number.isFinite(s)) total += s;
    }
    out[name] = total;
  }
  return out;
}

/** Runs `fn` and reports its wall time and each component's CPU time. */
export async function measured<T>(components: Components, fn: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number>; wallSeconds: number }> {
  const before = cpuNow(components);
  const t0 = performance.now();
  const result = await fn();
  const wallSeconds = (performance.now() - t0) / 1000;
  const after = cpuNow(components);
  const cpu: Record<string, number> = {};
  for (const k of Object.keys(after)) cpu[k] = (after[k] ?? 0) - (before[k] ?? 0);
  return { result, cpu, wallSeconds };
}

export interface RoundsOptions<V> {
  readonly variants: readonly V[];
  readonly workload: Workload;
  readonly components: Components;
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
  /** One run; resolves with its metrics. `round` is -1 for the warm-up. */
  readonly run: (variant: V, round: number) => Promise<Record<string, number>>;
  /** How to print a run's metrics in the progress line. */
  readonly describe: (values: Record<string, number>) => string;
}

/**
 * Interleaves the variants so that drift in the machine (other load, page cache, the PACS's
 * database growing) hits all of them alike: round r runs the variants rotated by r.
 */
export async function interleaved<V extends VariantBase>(o: RoundsOptions<V>): Promise<VariantSamples[]> {
  const out: VariantSamples[] = o.variants.map((v) => ({ id: v.id, label: v.label, ...(v.component === undefined ? {} : { component: v.component }), samples: [] }));
  // A failed run names its variant and round (the error alone does not say which proxy it went through).
  const run = (v: V, round: number): Promise<Record<string, number>> => o.run(v, round).catch((err: unknown) => {
    throw new Error(`${v.label}, ${round < 0 ? 'warm-up' : `round ${round + 1}`}: ${(err as Error).message}`, { cause: err });
  });
  if (o.workload.warmup) {
    for (const v of o.variants) {
      const values = await run(v, -1);
      o.log(`    warm-up ${v.label}: ${o.describe(values)}`);
    }
  }
  const n = o.variants.length;
  for (let round = 0; round < o.workload.rounds; round++) {
    for (let k = 0; k < n; k++) {
      const i = (k + round) % n;
      const v = o.variants[i] as V;
      const m = await measured(o.components, () => run(v, round));
      (out[i] as VariantSamples).samples.push({ round, values: m.result, cpu: m.cpu, wallSeconds: m.wallSeconds });
      o.log(`    round ${round + 1}/${o.workload.rounds} ${v.label}: ${o.describe(m.result)}`);
    }
  }
  return out;
}
