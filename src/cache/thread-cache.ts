/**
 * One proxy thread's cache: its share of the memory budget and, with
 * `redis_url`, its own Redis connection (a connection cannot cross threads).
 * It lives as long as the thread: configuration generations come and go, the
 * stored responses stay (the `[cache]` section itself changes only with a
 * restart; routes' cache settings follow reloads).
 *
 * @module
 */
import type { CacheSpec } from '../config/types.js';
import { RedisStore } from './redis-store.js';
import { ResponseCache } from './response-cache.js';
import type { CacheSnapshot } from '../metrics/thread-snapshot.js';

export class ThreadCache {
  readonly spec: CacheSpec;
  readonly cache: ResponseCache;
  readonly redis: RedisStore | undefined;

  /**
   * `threads` proxy threads share `spec.sizeBytes`; only the main thread (0) logs
   * Redis outages, so an outage is one line, not one per thread.
   */
  constructor(spec: CacheSpec, thread: number, threads: number) {
    this.spec = spec;
    this.redis =
      spec.redisUrl === undefined
        ? undefined
        : new RedisStore({ url: spec.redisUrl, keyPrefix: spec.redisKeyPrefix, timeoutMs: spec.redisTimeoutMs, quiet: thread !== 0 });
    this.cache = new ResponseCache({
      capacityBytes: Math.floor(spec.sizeBytes / threads),
      maxObjectBytes: spec.maxObjectBytes,
      ignoreQueryParams: spec.ignoreQueryParams,
      lockTimeoutMs: spec.lockTimeoutMs,
      shared: this.redis,
    });
  }

  /** Counters and memory use for the admin listener. */
  snapshot(): CacheSnapshot {
    const { stats, memory } = this.cache;
    return {
      hits: stats.hits,
      redisHits: stats.redisHits,
      staleHits: stats.staleHits,
      misses: stats.misses,
      stored: stats.stored,
      revalidated: stats.revalidated,
      servedOnError: stats.servedOnError,
      collapsed: stats.collapsed,
      entries: memory.entryCount,
      bytes: memory.usedBytes,
      capacityBytes: memory.capacityBytes,
      evictions: memory.evictions,
    };
  }

  async close(): Promise<void> {
    this.cache.close();
    await this.redis?.close();
  }
}
