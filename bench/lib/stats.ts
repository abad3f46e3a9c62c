// Small statistics for benchmark samples: median, spread, ratios.

/** Median of finite values; NaN for none. */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** Smallest and largest finite value ([NaN, NaN] for none). */
export function spread(values: readonly number[]): [number, number] {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return [Number.NaN, Number.NaN];
  return [Math.min(...v), Math.max(...v)];
}

/** Sum of finite values. */
export function sum(values: readonly number[]): number {
  return values.filter(Number.isFinite).reduce((a, b) => a + b, 0);
}

/**
 * How a variant compares with a peer, as "speed": > 1 means better than the peer.
 * For higher-is-better metrics that is a / peer; for lower-is-better (times) peer / a.
 */
export function speedRatio(value: number, peer: number, higherIsBetter: boolean): number {
  if (!Number.isFinite(value) || !Number.isFinite(peer) || value <= 0 || peer <= 0) return Number.NaN;
  return higherIsBetter ? value / peer : peer / value;
}
