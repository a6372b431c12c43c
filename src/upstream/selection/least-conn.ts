/**
 * Least connections: the instance with the fewest in-flight requests relative to
 * its weight (nginx's weighted `least_conn`).
 *
 * Ties are broken fairly by starting each scan one place further along, so idle
 * instances share light traffic instead of the first one taking every request.
 *
 * @module
 */
import type { Instance } from '../instance.js';
import type { Selector } from './types.js';

export class LeastConnSelector implements Selector {
  readonly #instances: readonly Instance[];
  readonly #weights: Float64Array;
  #start = 0;

  constructor(instances: readonly Instance[]) {
    this.#instances = instances;
    this.#weights = Float64Array.from(instances, (i) => i.spec.weight);
  }

  select(_clientIp: string, exclude: Instance | undefined): Instance | undefined {
    const instances = this.#instances;
    const n = instances.length;
    if (n === 0) return undefined;
    const weights = this.#weights;
    const start = this.#start;
    this.#start = start + 1 >= n ? 0 : start + 1;
    let best: Instance | undefined;
    let bestWeight = 1;
    for (let k = 0; k < n; k++) {
      // Index arithmetic instead of `%` per step: one compare is cheaper than a division.
      let i = start + k;
      if (i >= n) i -= n;
      const instance = instances[i]!;
      if (instance === exclude || !instance.isAvailable()) continue;
      const weight = weights[i]!;
      // inFlight/weight < best.inFlight/bestWeight, cross-multiplied to avoid two divisions.
      if (best === undefined || instance.inFlight * bestWeight < best.inFlight * weight) {
        best = instance;
        bestWeight = weight;
      }
    }
    return best;
  }
}
