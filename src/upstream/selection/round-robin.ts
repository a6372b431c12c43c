/**
 * Smooth weighted round robin, nginx's algorithm: weights 5,1,1 give a a b a c a a
 * rather than a a a a a b c, so a heavy instance never gets a burst.
 *
 * Each pick adds every candidate's weight to its running score, takes the highest
 * score, and subtracts the total weight from the winner. Unavailable (or excluded)
 * instances are skipped entirely, so the others share their turn by weight.
 *
 * @module
 */
import type { Instance } from '../instance.js';
import { isCandidate, type Selector } from './types.js';

export class RoundRobinSelector implements Selector {
  readonly #instances: readonly Instance[];
  readonly #weights: Float64Array;
  /** Running scores, parallel to #instances: a typed array, so picks never allocate. */
  readonly #current: Float64Array;

  constructor(instances: readonly Instance[]) {
    this.#instances = instances;
    this.#weights = Float64Array.from(instances, (i) => i.spec.weight);
    this.#current = new Float64Array(instances.length);
  }

  select(_clientIp: string, exclude: Instance | undefined, tried: number): Instance | undefined {
    const instances = this.#instances;
    const current = this.#current;
    const weights = this.#weights;
    let total = 0;
    let best = -1;
    for (let i = 0; i < instances.length; i++) {
      const instance = instances[i]!;
      if (!isCandidate(instance, i, exclude, tried)) continue;
      current[i]! += weights[i]!;
      total += weights[i]!;
      if (best === -1 || current[i]! > current[best]!) best = i;
    }
    if (best === -1) return undefined;
    current[best]! -= total;
    return instances[best];
  }
}
