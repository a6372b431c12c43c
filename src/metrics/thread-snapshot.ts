/**
 * What one proxy thread reports when the admin listener asks (metrics scrape,
 * status, dashboard): its request counters, its view of every instance (each
 * thread has its own copy, with its own circuit breaker and counters), requests in
 * flight, open WebSockets and its recent errors. Plain data: it crosses threads by
 * message.
 *
 * @module
 */
import type { RecentError } from '../filters/error-log.js';
import type { Generation } from '../runtime/generation.js';
import type { RouteCountersSnapshot } from './thread-metrics.js';

export interface InstanceSnapshot {
  readonly id: string;
  readonly upstream: string;
  readonly address: string;
  readonly requests: number;
  readonly failures: number;
  readonly inFlight: number;
  readonly ejections: number;
  readonly breaker: 'closed' | 'open' | 'half_open';
  readonly available: boolean;
  readonly drained: boolean;
  readonly health: 'up' | 'down' | 'unknown';
  readonly processReady: boolean;
  readonly supervised: boolean;
}

/** One thread's response cache (`[cache]`): its counters and its memory tier now. */
export interface CacheSnapshot {
  readonly hits: number;
  readonly redisHits: number;
  readonly staleHits: number;
  readonly misses: number;
  readonly stored: number;
  readonly revalidated: number;
  readonly servedOnError: number;
  readonly collapsed: number;
  readonly entries: number;
  readonly bytes: number;
  readonly capacityBytes: number;
  readonly evictions: number;
}

export interface ThreadSnapshot {
  readonly thread: number;
  readonly generation: number;
  readonly inFlight: number;
  readonly websockets: number;
  readonly routes: readonly RouteCountersSnapshot[];
  readonly instances: readonly InstanceSnapshot[];
  readonly recentErrors: readonly RecentError[];
  /** Undefined without `[cache]`. */
  readonly cache: CacheSnapshot | undefined;
}

/** Every instance of `generation`, as this thread sees it now. */
export function snapshotInstances(generation: Generation): InstanceSnapshot[] {
  const out: InstanceSnapshot[] = [];
  for (const upstream of generation.upstreams.values()) {
    for (const i of upstream.instances) {
      out.push({
        id: i.id,
        upstream: upstream.name,
        address: i.address,
        requests: i.requests,
        failures: i.failures,
        inFlight: i.inFlight,
        ejections: i.ejections,
        breaker: i.breakerState,
        available: i.isAvailable(),
        drained: i.drained,
        health: i.health,
        processReady: i.processReady,
        supervised: i.usesProcess,
      });
    }
  }
  return out;
}
