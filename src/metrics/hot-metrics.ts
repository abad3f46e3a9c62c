// Counters and histograms for the per-request path, as plain maps and arrays read by prom-client when scraped.
//
// prom-client's labels().inc() / observe() validate and hash the label values on every call
// (~0.5 µs each); these find their entry through nested Maps (no string built per request) and
// become the exposition only on a scrape, through prom-client's metric interface (registerMetric
// with get()).

import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

interface Value { readonly labels: Labels; readonly value: number; readonly metricName?: string }

function register(registry: Registry, o: { name: string; help: string; type: 'counter' | 'histogram'; values: () => Value[]; reset: () => void }): void {
  const metric = {
    name: o.name, help: o.help, type: o.type, aggregator: 'sum',
    get: async () => ({ name: o.name, help: o.help, type: o.type, aggregator: 'sum', values: o.values() }),
    reset: o.reset,
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}

/** Nested maps a → b → entry. */
class Nested<T> {
  readonly #m = new Map<string, Map<string, T>>();

  get(a: string, b: string, make: () => T): T {
    let inner = this.#m.get(a);
    if (inner === undefined) { inner = new Map(); this.#m.set(a, inner); }
    let e = inner.get(b);
    if (e === undefined) { e = make(); inner.set(b, e); }
    return e;
  }

  values(): T[] { return [...this.#m.values()].flatMap((inner) => [...inner.values()]); }
  clear(): void { this.#m.clear(); }
}

/** A counter with three labels. */
export class FastCounter3 {
  readonly #m = new Nested<Map<string, { labels: Labels; n: number }>>();
  readonly #names: readonly [string, string, string];

  constructor(registry: Registry, name: string, help: string, names: readonly [string, string, string]) {
    this.#names = names;
    register(registry, {
      name, help, type: 'counter',
      values: () => this.#m.values().flatMap((m) => [...m.values()].map((e) => ({ labels: e.labels, value: e.n }))),
      reset: () => { this.#m.clear(); },
    });
  }

  inc(a: string, b: string, c: string): void {
    const m = this.#m.get(a, b, () => new Map());
    const e = m.get(c);
    if (e !== undefined) { e.n++; return; }
    const [na, nb, nc] = this.#names;
    m.set(c, { labels: { [na]: a, [nb]: b, [nc]: c }, n: 1 });
  }
}

interface Buckets { readonly labels: Labels; readonly counts: Float64Array; sum: number; n: number }

/** A histogram with two labels; bucket counts as a plain array, made cumulative on a scrape. */
export class FastHistogram2 {
  readonly #bounds: readonly number[];
  readonly #m = new Nested<Buckets>();
  readonly #names: readonly [string, string];

  constructor(registry: Registry, name: string, help: string, names: readonly [string, string], bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#names = names;
    register(registry, {
      name, help, type: 'histogram',
      values: () => this.#m.values().flatMap((e) => {
        const out: Value[] = [];
        let cumulative = 0;
        bounds.forEach((le, i) => {
          cumulative += e.counts[i] as number;
          out.push({ labels: { ...e.labels, le: String(le) }, value: cumulative, metricName: `${name}_bucket` });
        });
        out.push({ labels: { ...e.labels, le: '+Inf' }, value: e.n, metricName: `${name}_bucket` });
        out.push({ labels: e.labels, value: e.sum, metricName: `${name}_sum` });
        out.push({ labels: e.labels, value: e.n, metricName: `${name}_count` });
        return out;
      }),
      reset: () => { this.#m.clear(); },
    });
  }

  observe(a: string, b: string, seconds: number): void {
    const e = this.#m.get(a, b, () => ({ labels: { [this.#names[0]]: a, [this.#names[1]]: b }, counts: new Float64Array(this.#bounds.length), sum: 0, n: 0 }));
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) { e.counts[i] = (e.counts[i] as number) + 1; break; }
    }
    e.sum += seconds;
    e.n++;
  }
}
