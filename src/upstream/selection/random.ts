/**
 * Random with the power of two choices: draw two distinct available instances at
 * random (by weight) and take the one with fewer in-flight requests relative to
 * its weight. Nearly as even as least_conn, with no shared scan order, which suits
 * stateless services.
 *
 * @module
 */
import type { Instance } from '../instance.js';
import { isCandidate, type Selector } from './types.js';

export class RandomSelector implements Selector {
  readonly #instances: readonly Instance[];
  readonly #weights: Float64Array;

  constructor(instances: readonly Instance[]) {
    this.#instances = instances;
    this.#weights = Float64Array.from(instances, (i) => i.spec.weight);
  }

  select(_clientIp: string, exclude: Instance | undefined, tried: number): Instance | undefined {
    const instances = this.#instances;
    const weights = this.#weights;
    // One pass for the total weight of the candidates, so the draws need no candidate list.
    let total = 0;
    let count = 0;
    for (let i = 0; i < instances.length; i++) {
      const instance = instances[i]!;
      if (!isCandidate(instance, i, exclude, tried)) continue;
      total += weights[i]!;
      count++;
    }
    if (count === 0) return undefined;
    const first = this.#draw(Math.random() * total, exclude, tried, -1);
    if (count === 1) return instances[first];
    // The second draw leaves the first out, so the two choices are distinct.
    const second = this.#draw(Math.random() * (total - weights[first]!), exclude, tried, first);
    const a = instances[first]!;
    const b = instances[second]!;
    return b.inFlight * weights[first]! < a.inFlight * weights[second]! ? b : a;
  }

  /** Index of the candidate whose weight interval contains `point`. */
  #draw(point: number, exclude: Instance | undefined, tried: number, skip: number): number {
    const instances = this.#instances;
    const weights = this.#weights;
    let last = -1;
    for (let i = 0; i < instances.length; i++) {
      const instance = instances[i]!;
      if (i === skip || !isCandidate(instance, i, exclude, tried)) continue;
      last = i;
      point -= weights[i]!;
      if (point < 0) return i;
    }
    // Floating-point rounding can leave a sliver past the end: it belongs to the last candidate.
    return last;
  }
}
