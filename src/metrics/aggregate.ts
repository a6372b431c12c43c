/**
 * Adds up what every proxy thread reported (`ThreadSnapshot`s) into the fleet's
 * numbers: requests and latencies per route, each instance as all threads see it
 * (counters summed, circuit breakers counted by state), requests in flight and
 * WebSockets per thread, and the most recent errors of all threads.
 *
 * @module
 */
import type { RecentError } from '../filters/error-log.js';
import { addHistogram, emptyHistogram } from './histogram.js';
import type { CacheSnapshot, InstanceSnapshot, ThreadSnapshot } from './thread-snapshot.js';

export interface RouteTotals {
  readonly route: string;
  readonly upstream: string;
  readonly requests: number[];
  readonly duration: { counts: number[]; sumMs: number };
  readonly upstreamDuration: { counts: number[]; sumMs: number };
  retries: number;
  readonly errors: Map<string, number>;
}

export interface InstanceTotals {
  readonly id: string;
  readonly upstream: string;
  readonly address: string;
  requests: number;
  failures: number;
  inFlight: number;
  ejections: number;
  /** Threads whose circuit breaker keeps the instance out now (open or half-open). */
  ejectedOn: number;
  /** Threads that would send it a request now. */
  availableOn: number;
  threads: number;
  drained: boolean;
  /** Active health (decided on the main thread, mirrored to all). */
  health: InstanceSnapshot['health'];
  processReady: boolean;
  supervised: boolean;
}

export interface FleetTotals {
  readonly routes: RouteTotals[];
  readonly instances: InstanceTotals[];
  readonly threads: { readonly thread: number; readonly generation: number; readonly inFlight: number; readonly websockets: number }[];
  /** Newest first. */
  readonly recentErrors: RecentError[];
  /** Every thread's cache counters and memory added up; undefined without `[cache]`. */
  readonly cache: CacheSnapshot | undefined;
}

const RECENT_SHOWN = 50;

export function aggregate(snapshots: readonly ThreadSnapshot[]): FleetTotals {
  const routes = new Map<string, RouteTotals>();
  const instances = new Map<string, InstanceTotals>();
  // The main thread's view first: health and readiness are taken from it.
  const ordered = [...snapshots].sort((a, b) => a.thread - b.thread);
  for (const snapshot of ordered) {
    for (const r of snapshot.routes) {
      const key = `${r.route}\u0000${r.upstream}`;
      let total = routes.get(key);
      if (total === undefined) {
        total = { route: r.route, upstream: r.upstream, requests: new Array<number>(r.requests.length).fill(0), duration: emptyHistogram(), upstreamDuration: emptyHistogram(), retries: 0, errors: new Map() };
        routes.set(key, total);
      }
      for (let i = 0; i < r.requests.length; i++) total.requests[i]! += r.requests[i]!;
      addHistogram(total.duration, r.duration);
      addHistogram(total.upstreamDuration, r.upstreamDuration);
      total.retries += r.retries;
      for (const [code, count] of r.errors) total.errors.set(code, (total.errors.get(code) ?? 0) + count);
    }
    for (const i of snapshot.instances) {
      let total = instances.get(i.id);
      if (total === undefined) {
        total = {
          id: i.id,
          upstream: i.upstream,
          address: i.address,
          requests: 0,
          failures: 0,
          inFlight: 0,
          ejections: 0,
          ejectedOn: 0,
          availableOn: 0,
          threads: 0,
          drained: i.drained,
          health: i.health,
          processReady: i.processReady,
          supervised: i.supervised,
        };
        instances.set(i.id, total);
      }
      total.requests += i.requests;
      total.failures += i.failures;
      total.inFlight += i.inFlight;
      total.ejections += i.ejections;
      if (i.breaker !== 'closed') total.ejectedOn++;
      if (i.available) total.availableOn++;
      total.threads++;
    }
  }
  const recentErrors = ordered
    .flatMap((s) => s.recentErrors)
    .sort((a, b) => b.at - a.at)
    .slice(0, RECENT_SHOWN);
  return {
    routes: [...routes.values()],
    instances: [...instances.values()],
    threads: ordered.map((s) => ({ thread: s.thread, generation: s.generation, inFlight: s.inFlight, websockets: s.websockets })),
    recentErrors,
    cache: sumCaches(ordered),
  };
}

function sumCaches(snapshots: readonly ThreadSnapshot[]): CacheSnapshot | undefined {
  let sum: { -readonly [K in keyof CacheSnapshot]: number } | undefined;
  for (const { cache } of snapshots) {
    if (cache === undefined) continue;
    if (sum === undefined) {
      sum = { ...cache };
      continue;
    }
    for (const key of Object.keys(sum) as (keyof CacheSnapshot)[]) sum[key] += cache[key];
  }
  return sum;
}
