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
  /** An available instance other than `exclude` (the one just tried), or undefined when there is none. */
  select(clientIp: string, exclude: Instance | undefined): Instance | undefined;
}
