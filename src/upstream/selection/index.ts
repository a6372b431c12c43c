/**
 * Picks the selector class for a strategy name.
 *
 * @module
 */
import type { Strategy } from '../../config/types.js';
import type { Instance } from '../instance.js';
import { IpHashSelector } from './ip-hash.js';
import { LeastConnSelector } from './least-conn.js';
import { RandomSelector } from './random.js';
import { RoundRobinSelector } from './round-robin.js';
import type { Selector } from './types.js';

export type { Selector } from './types.js';

export function createSelector(strategy: Strategy, instances: readonly Instance[]): Selector {
  switch (strategy) {
    case 'round_robin':
      return new RoundRobinSelector(instances);
    case 'least_conn':
      return new LeastConnSelector(instances);
    case 'random':
      return new RandomSelector(instances);
    case 'ip_hash':
      return new IpHashSelector(instances);
    default: {
      // Config validation only lets the four names through; this guards a future fifth one.
      const unknown: never = strategy;
      throw new Error(`unknown load-balancing strategy ${JSON.stringify(unknown)}: use round_robin, least_conn, random or ip_hash`);
    }
  }
}
