/**
 * Least connections: the instance with the fewest in-flight requests relative to
 * its weight (nginx's weighted `least_conn`).
 *
 * Ties, which are the rule under light load (everyone at 0), are broken as nginx
 * does: smooth weighted round robin among the tied instances. So idle instances
 * share traffic in proportion to their weights instead of the first one in the
 * list taking every request.
 *
 * @module
 */
import type { Instance } from '../instance.js';
import { isCandidate, type Selector } from './types.js';

export class LeastConnSelector implements Selector {
  readonly #instances: readonly Instance[];
  readonly #weights: Float64Array;
  /** Smooth round-robin scores for tie-breaking, parallel to #instances (no allocation per pick). */
  readonly #current: Float64Array;

  constructor(instances: readonly Instance[]) {
    this.#instances = instances;
    this.#weights = Float64Array.from(instances, (i) => i.spec.weight);
    this.#current = new Float64Array(instances.length);
  }

  select(_clientIp: string, exclude: Instance | undefined, tried: number): Instance | undefined {
    const instances = this.#instances;
    const weights = this.#weights;
    // Pass 1: the lowest load (inFlight/weight) among candidates, kept as the pair that
    // defines it so comparisons cross-multiply instead of dividing.
    let minInFlight = -1;
    let minWeight = 1;
    let ties = 0;
    let only = -1;
    for (let i = 0; i < instances.length; i++) {
      const instance = instances[i]!;
      if (!isCandidate(instance, i, exclude, tried)) continue;
      const lhs = instance.inFlight * minWeight;
      const rhs = minInFlight * weights[i]!;
      if (minInFlight === -1 || lhs < rhs) {
        minInFlight = instance.inFlight;
        minWeight = weights[i]!;
        ties = 1;
        only = i;
      } else if (lhs === rhs) {
        ties++;
      }
    }
    if (ties === 0) return undefined;
    if (ties === 1) return instances[only];
    // Pass 2: smooth weighted round robin among the tied instances only.
    const current = this.#current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < instances.length; i++) {
      const instance = instances[i]!;
      if (!isCandidate(instance, i, exclude, tried)) continue;
      if (instance.inFlight * minWeight !== minInFlight * weights[i]!) continue;
      current[i]! += weights[i]!;
      total += weights[i]!;
      if (best === -1 || current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    return instances[best];
  }
}
