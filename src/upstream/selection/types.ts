/**
 * The one-method interface every load-balancing strategy implements.
 *
 * A selector is built once per upstream with its instance list and only read per
 * request: no allocation in `select()`, and every strategy asks the same
 * predicate, `Instance.isAvailable()`, so health and ejection mean the same everywhere.
 *
 * @module
 */
import type { Instance } from '../instance.js';

export interface Selector {
  /**
   * An available instance that is neither `exclude` nor marked in `tried` (bit i set =
   * instance i already tried, see `Instance.bit`), or undefined when there is none.
   */
  select(clientIp: string, exclude: Instance | undefined, tried: number): Instance | undefined;
}

/**
 * The skip test every strategy applies to instance `i`. A bit mask rather than a
 * Set of tried instances so a retrying request allocates nothing; instances past
 * the 32nd cannot be marked and are only skipped via `exclude`.
 */
export function isCandidate(instance: Instance, i: number, exclude: Instance | undefined, tried: number): boolean {
  return instance !== exclude && (i >= 32 || ((tried >>> i) & 1) === 0) && instance.isAvailable();
}
