/**
 * A latency histogram with fixed buckets, as Prometheus keeps them: a count per
 * bucket (not cumulative here; cumulated when exported) and a sum. Observing is a
 * short scan over a constant array and two additions: no allocation, no lookup.
 *
 * @module
 */

/** Upper bounds in milliseconds (Prometheus's `le`, exported in seconds): 1 ms to 10 s, then +Inf. */
export const latencyBucketsMs: readonly number[] = Object.freeze([1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);

export class Histogram {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is +Inf. */
  readonly counts = new Float64Array(latencyBucketsMs.length + 1);
  sumMs = 0;

  observe(ms: number): void {
    const bounds = latencyBucketsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
  }
}

/** What crosses threads: plain numbers. */
export interface HistogramSnapshot {
  readonly counts: number[];
  readonly sumMs: number;
}

export function snapshotHistogram(h: Histogram): HistogramSnapshot {
  return { counts: Array.from(h.counts), sumMs: h.sumMs };
}

/** Adds `from` into `into` (same buckets). */
export function addHistogram(into: { counts: number[]; sumMs: number }, from: HistogramSnapshot): void {
  for (let i = 0; i < from.counts.length; i++) into.counts[i] = (into.counts[i] ?? 0) + from.counts[i]!;
  into.sumMs += from.sumMs;
}

/** An empty histogram snapshot, to add others into. */
export function emptyHistogram(): { counts: number[]; sumMs: number } {
  return { counts: new Array<number>(latencyBucketsMs.length + 1).fill(0), sumMs: 0 };
}
