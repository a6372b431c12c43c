/**
 * Where invalidations meet, on the main thread: a NOTIFY, `warpdrive purge`, an
 * unsafe request on any proxy thread, or a purge after missed notifications.
 * Each is applied once to the main thread's memory, sent to every proxy worker
 * (except the one it came from, which has applied it already), and applied
 * once to the Redis tier, so N threads cost one Redis purge, not N.
 *
 * @module
 */
import { createLogger } from '../log.js';
import { formatInvalidation, type InvalidationPattern } from './invalidation-pattern.js';
import type { ResponseCache, SharedTier } from './response-cache.js';

/** Where an invalidation came from: a proxy worker's number, or one of the main thread's sources. */
export type InvalidationOrigin = number | 'main' | 'notify' | 'purge' | 'missed';

/** Sends invalidations to one proxy worker (postMessage). */
export type WorkerSend = (patterns: readonly InvalidationPattern[]) => void;

const log = createLogger('cache');

export class InvalidationBus {
  readonly #workers = new Map<number, WorkerSend>();
  #local: ResponseCache | undefined;
  readonly #shared: SharedTier | undefined;

  /** `shared`: the main thread's Redis tier, used for the one Redis purge per invalidation. */
  constructor(shared: SharedTier | undefined) {
    this.#shared = shared;
  }

  /** The main thread's own cache: its local invalidations come here, and everyone else's go to it. */
  attachLocal(cache: ResponseCache): void {
    this.#local = cache;
    cache.onLocalInvalidation = (patterns) => void this.publish(patterns, 'main');
  }

  addWorker(thread: number, send: WorkerSend): void {
    this.#workers.set(thread, send);
  }

  removeWorker(thread: number): void {
    this.#workers.delete(thread);
  }

  /**
   * Applies `patterns` everywhere but at their origin; resolves with the entries
   * removed from the main thread's memory and from Redis.
   */
  async publish(patterns: readonly InvalidationPattern[], origin: InvalidationOrigin): Promise<{ memory: number; redis: number }> {
    const memory = origin === 'main' || this.#local === undefined ? 0 : this.#local.invalidate(patterns, 'relayed');
    for (const [thread, send] of this.#workers) if (thread !== origin) send(patterns);
    const redis = this.#shared === undefined ? 0 : await this.#shared.invalidate(patterns);
    if (typeof origin === 'string' && origin !== 'main') {
      // A busy application notifies often: those lines are for debugging; purges are worth a line each.
      const line = `invalidated ${patterns.map(formatInvalidation).join(' ')} (${origin}): ${memory} in memory on the main thread, ${redis} in Redis, sent to ${this.#workers.size} proxy worker(s)`;
      if (origin === 'notify') log.debug(line);
      else log.info(line);
    }
    return { memory, redis };
  }
}
