/**
 * `GET /api/status`: the fleet as an operator thinks of it (routes -> upstreams ->
 * instances -> processes), with the counters the dashboard turns into rates, the
 * processes' state and the recent errors. Built from the threads' snapshots
 * (summed by aggregate.ts), the supervisor's states and the running plan.
 *
 * @module
 */
import { describeConditions } from '../cli/routes.js';
import type { RuntimePlan } from '../config/types.js';
import type { FleetTotals } from '../metrics/aggregate.js';
import { addHistogram, emptyHistogram, latencyBucketsMs } from '../metrics/histogram.js';
import { statusClassLabels } from '../metrics/thread-metrics.js';
import type { UnitStatus } from '../supervisor/client.js';
import type { ProcessFacts } from '../metrics/prometheus.js';

/** Requests and latency of an upstream (or a route), summed over what routes to it. */
export interface Traffic {
  requests: number;
  /** By status class: none, 1xx..5xx. */
  byClass: number[];
  /** Histogram over `latencyBucketsMs` (+Inf last), and the sum, in ms. */
  durationCounts: number[];
  durationSumMs: number;
}

function emptyTraffic(): Traffic {
  return { requests: 0, byClass: new Array<number>(statusClassLabels.length).fill(0), durationCounts: emptyHistogram().counts, durationSumMs: 0 };
}

function addRequests(traffic: Traffic, requests: readonly number[], duration: { counts: number[]; sumMs: number }): void {
  for (let i = 0; i < requests.length; i++) {
    traffic.requests += requests[i]!;
    traffic.byClass[i % statusClassLabels.length]! += requests[i]!;
  }
  const h = { counts: traffic.durationCounts, sumMs: traffic.durationSumMs };
  addHistogram(h, duration);
  traffic.durationSumMs = h.sumMs;
}

export function fleetStatus(plan: RuntimePlan, totals: FleetTotals, processes: readonly UnitStatus[], facts: ProcessFacts & { readonly pid: number }) {
  const now = Date.now();
  const routeTraffic = new Map<string, Traffic>();
  const upstreamTraffic = new Map<string, Traffic>();
  for (const r of totals.routes) {
    const forRoute = routeTraffic.get(r.route) ?? emptyTraffic();
    addRequests(forRoute, r.requests, r.duration);
    routeTraffic.set(r.route, forRoute);
    if (r.upstream === 'none') continue;
    const forUpstream = upstreamTraffic.get(r.upstream) ?? emptyTraffic();
    addRequests(forUpstream, r.requests, r.duration);
    upstreamTraffic.set(r.upstream, forUpstream);
  }
  const processOf = new Map<string, string>();
  for (const p of processes) for (const id of p.instanceIds) processOf.set(id, p.unit);

  return {
    warpdrive: {
      pid: facts.pid,
      version: facts.version,
      startedAt: new Date(facts.startTimeSeconds * 1000).toISOString(),
      uptimeSecs: Math.round(now / 1000 - facts.startTimeSeconds),
      config: plan.source,
      proxyThreads: facts.proxyThreads,
      generation: facts.generation,
      reloads: facts.reloads,
      cpuSeconds: facts.cpuSeconds,
      rssBytes: facts.residentBytes,
    },
    latencyBucketsMs,
    statusClasses: statusClassLabels,
    routes: plan.routes.map((route) => ({
      route: String(route.index + 1),
      conditions: describeConditions(route),
      description: route.description ?? null,
      upstream: route.upstream,
      traffic: routeTraffic.get(String(route.index + 1)) ?? emptyTraffic(),
    })),
    unrouted: routeTraffic.get('none') ?? emptyTraffic(),
    upstreams: [...plan.upstreams.values()].map((upstream) => ({
      name: upstream.name,
      strategy: upstream.strategy,
      traffic: upstreamTraffic.get(upstream.name) ?? emptyTraffic(),
      instances: totals.instances
        .filter((i) => i.upstream === upstream.name)
        .map((i) => ({
          id: i.id,
          address: i.address,
          // The main thread's view: what a request there would find.
          state: i.drained ? 'drained' : i.supervised && !i.processReady ? 'process not ready' : i.health === 'down' ? 'down' : i.ejectedOn > 0 ? 'ejected' : 'up',
          health: i.health,
          processReady: i.processReady,
          supervised: i.supervised,
          drained: i.drained,
          availableOnThreads: i.availableOn,
          ejectedOnThreads: i.ejectedOn,
          threads: i.threads,
          inFlight: i.inFlight,
          requests: i.requests,
          failures: i.failures,
          ejections: i.ejections,
          process: processOf.get(i.id) ?? (upstream.process === undefined ? null : upstream.name),
        })),
    })),
    processes: processes.map((p) => ({
      ...p,
      uptimeSecs: p.state === 'ready' || p.state === 'starting' ? (p.startedAt === undefined ? null : Math.round((now - p.startedAt) / 1000)) : null,
    })),
    threads: totals.threads,
    recentErrors: totals.recentErrors,
  };
}

export type FleetStatus = ReturnType<typeof fleetStatus>;
