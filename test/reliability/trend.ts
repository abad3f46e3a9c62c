// Whether a sampled series is flat: the last third does not sit above the middle third by more than a slack.

/** Splits the series (after the first sixth, the warm-up) into thirds and compares medians and maxima. */
export function flat(series: readonly number[], slack: number): { readonly flat: boolean; readonly detail: string } {
  const s = series.slice(Math.floor(series.length / 6)).filter((x) => x >= 0);
  const third = Math.max(1, Math.floor(s.length / 3));
  const median = (a: readonly number[]): number => { const b = [...a].sort((x, y) => x - y); return b[Math.floor(b.length / 2)] ?? 0; };
  const middle = s.slice(third, 2 * third);
  const last = s.slice(2 * third);
  const m = median(middle);
  const l = median(last);
  const ok = s.length >= 3 && l <= m + slack;
  return { flat: ok, detail: `median ${m.toFixed(1)} in the middle third, ${l.toFixed(1)} in the last (max ${Math.max(...s).toFixed(1)}, slack ${slack})` };
}
