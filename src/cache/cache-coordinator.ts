/**
 * The cache's main-thread services: the invalidation bus that takes every
 * invalidation to all proxy threads and to Redis once, and, with `[postgres]`,
 * the LISTEN connection whose notifications feed it. A lost connection that
 * comes back purges everything (notifications sent meanwhile are lost).
 *
 * @module
 */
import type { RuntimePlan } from '../config/types.js';
import { InvalidationBus } from './invalidation-bus.js';
import { PgListener } from './pg-listener.js';
import type { ThreadCache } from './thread-cache.js';

export class CacheCoordinator {
  readonly bus: InvalidationBus;
  readonly listener: PgListener | undefined;

  /** `main`: the main thread's cache (its Redis connection does the one Redis purge per invalidation). */
  constructor(plan: RuntimePlan, main: ThreadCache) {
    this.bus = new InvalidationBus(main.redis);
    this.bus.attachLocal(main.cache);
    const postgres = plan.postgres;
    this.listener =
      postgres === undefined
        ? undefined
        : new PgListener({
            url: postgres.url,
            channel: postgres.channel,
            onInvalidate: (patterns) => void this.bus.publish(patterns, 'notify'),
            onMissed: () => void this.bus.publish([{ kind: 'all' }], 'missed'),
          });
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }
}
