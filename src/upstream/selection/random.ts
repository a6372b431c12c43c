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
  /**
   * xorshift32 state. Math.random() returns a freshly boxed heap number on every
   * call in Node 20's V8 (measured: ~80 young-generation GCs per 5 M calls); a
   * PRNG on a typed-array word stays in registers and allocates nothing. Load
   * balancing needs spread, not unpredictability.
   */
  readonly #state = new Uint32Array(1);

  constructor(instances: readonly Instance[]) {
    this.#instances = instances;
    this.#weights = Float64Array.from(instances, (i) => i.spec.weight);
    // Seeded per selector so that several warpdrive processes do not draw in lockstep; never 0 (a fixed point).
    this.#state[0] = (Math.random() * 0xffffffff) >>> 0 || 0x9e3779b9;
  }

  /** A uniform number in [0, 1). */
  #next(): number {
    let x = this.#state[0]!;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state[0] = x;
    return (x >>> 0) / 4294967296;
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
    // The two draws are written out here rather than in a helper taking the point: a double
    // passed to a call V8 does not inline is boxed into a heap number, one allocation per draw.
    let point = this.#next() * total;
    let first = -1;
    for (let i = 0; i < instances.length; i++) {
      if (!isCandidate(instances[i]!, i, exclude, tried)) continue;
      first = i;
      point -= weights[i]!;
      // Floating-point rounding can leave a sliver past the end: it falls to the last candidate.
      if (point < 0) break;
    }
    if (count === 1) return instances[first];
    // The second draw leaves the first out, so the two choices are distinct.
    point = this.#next() * (total - weights[first]!);
    let second = -1;
    for (let i = 0; i < instances.length; i++) {
      if (i === first || !isCandidate(instances[i]!, i, exclude, tried)) continue;
      second = i;
      point -= weights[i]!;
      if (point < 0) break;
    }
    const a = instances[first]!;
    const b = instances[second]!;
    return b.inFlight * weights[first]! < a.inFlight * weights[second]! ? b : a;
  }
}
