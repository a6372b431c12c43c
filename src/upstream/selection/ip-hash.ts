/**
 * Sticky by client IP, with consistent hashing on a ring (ketama style).
 *
 * Each instance owns many points ("virtual nodes") on a 32-bit ring, in
 * proportion to its weight; a client IP hashes to a position and goes to the
 * owner of the next point clockwise. When an instance is down, its clients walk
 * on to the next available owner, while every other client keeps its instance:
 * taking one instance out remaps only that instance's clients (about 1/n of
 * them), and they spread over the rest instead of all landing on one neighbour.
 *
 * Points are keyed by the instance's address, not its position in the list, so
 * a config that removes or reorders instances also keeps the survivors' clients.
 *
 * @module
 */
import type { Instance } from '../instance.js';
import { isCandidate, type Selector } from './types.js';

/** Points per instance of average weight: enough for an even split (within a few %) with a ring of small size. */
export const POINTS_PER_INSTANCE = 160;

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so near-identical keys spread over the ring. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class IpHashSelector implements Selector {
  readonly #instances: readonly Instance[];
  /** Sorted ring positions and, in parallel, the index of the instance owning each: typed arrays, searched without allocation. */
  readonly #points: Uint32Array;
  readonly #owners: Uint32Array;

  constructor(instances: readonly Instance[]) {
    this.#instances = instances;
    const totalWeight = instances.reduce((sum, i) => sum + i.spec.weight, 0);
    const ring: Array<{ point: number; owner: number }> = [];
    instances.forEach((instance, owner) => {
      const count = Math.max(1, Math.round((POINTS_PER_INSTANCE * instances.length * instance.spec.weight) / totalWeight));
      for (let k = 0; k < count; k++) ring.push({ point: hashString(`${instance.address}-${k}`), owner });
    });
    // Ties (two keys hashing alike) are ordered by owner so the ring is the same on every build.
    ring.sort((a, b) => a.point - b.point || a.owner - b.owner);
    this.#points = Uint32Array.from(ring, (r) => r.point);
    this.#owners = Uint32Array.from(ring, (r) => r.owner);
  }

  select(clientIp: string, exclude: Instance | undefined, tried: number): Instance | undefined {
    const instances = this.#instances;
    // One cheap pass first, so the all-down case costs n reads instead of a walk round the whole ring.
    let any = false;
    for (let i = 0; i < instances.length; i++) {
      if (isCandidate(instances[i]!, i, exclude, tried)) {
        any = true;
        break;
      }
    }
    if (!any) return undefined;
    const points = this.#points;
    const owners = this.#owners;
    const n = points.length;
    let index = this.#firstAtOrAfter(hashString(clientIp));
    for (let step = 0; step < n; step++) {
      if (index === n) index = 0;
      const owner = owners[index]!;
      const instance = instances[owner]!;
      if (isCandidate(instance, owner, exclude, tried)) return instance;
      index++;
    }
    return undefined;
  }

  /** Binary search: the first ring index whose point is >= hash (n when past the end, which wraps to 0). */
  #firstAtOrAfter(hash: number): number {
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
