// Pure arithmetic over repeated measurements: every figure the bench prints is a median with its range.

/** A repeated measurement reduced to what the report prints: median, min and max over n samples. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

/** Medians, not means: one slow repetition (a page-cache miss, a GC) should not move the figure. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { n: sorted.length, median, min: sorted[0] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN };
}

/** Nearest-rank percentile (p in 0..100), so p99 of 500 samples is an observed latency, not an interpolation. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/**
 * Per-repetition ratios of paired samples: pipgate and its baseline ran back to back in the same
 * repetition, so their ratio cancels most of the machine's drift over the run.
 */
export function pairedRatios(measured: readonly number[], baseline: readonly number[]): number[] {
  const pairs = Math.min(measured.length, baseline.length);
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i += 1) {
    const a = measured[i];
    const b = baseline[i];
    if (a !== undefined && b !== undefined && b > 0) ratios.push(a / b);
  }
  return ratios;
}
