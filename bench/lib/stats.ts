/**
 * Summaries of repeated measurements: median with min and max, and ratios to
 * the reference proxy (nginx) from the same run.
 *
 * @module
 */

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Median, min and max of the finite values; NaNs (not measured) are left out. */
export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = finite.length;
  if (n === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  return { median, min: finite[0]!, max: finite[n - 1]!, n };
}

/** `value / reference`, or NaN when either is missing or the reference is 0. */
export function ratio(value: number, reference: number): number {
  return Number.isFinite(value) && Number.isFinite(reference) && reference !== 0 ? value / reference : NaN;
}
