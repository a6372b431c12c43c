/**
 * What a reload changes, decided before anything is swapped: which settings need
 * a restart (and are therefore kept as they are), and the routes, upstreams and
 * processes that were added, removed or changed, for the one-line summary.
 * Pure: plans in, plans and names out.
 *
 * @module
 */
import type { RouteSpec, RuntimePlan, ServerSpec } from '../config/types.js';
import { sameUpstreamDefinition } from './generation.js';

/**
 * Server settings a running warpdrive cannot change: they belong to the listening
 * sockets and the thread count (and so does `[admin]`, checked below). A reload keeps the running values and names the
 * keys it left alone.
 */
const restartOnly: ReadonlyArray<readonly [keyof ServerSpec, string]> = [
  ['bindAddress', 'server.bind_address'],
  ['httpPort', 'server.http_port'],
  ['httpsPort', 'server.https_port'],
  ['workerThreads', 'server.worker_threads'],
  ['idleTimeoutMs', 'server.idle_timeout_secs'],
  ['websocketMaxMessageBytes', 'server.websocket_max_message_bytes'],
  ['websocketIdleTimeoutSecs', 'server.websocket_idle_timeout_secs'],
  ['websocketMaxBufferedBytes', 'server.websocket_max_buffered_bytes'],
];

export interface ReloadPlan {
  /** The plan to serve: the new file's, with the restart-only settings of the running one. */
  readonly plan: RuntimePlan;
  /** Keys whose new values wait for a restart. */
  readonly needRestart: readonly string[];
  readonly routesAdded: number;
  readonly routesRemoved: number;
  readonly upstreamsAdded: readonly string[];
  readonly upstreamsRemoved: readonly string[];
  /** Upstreams whose pools are rebuilt (addresses, strategy, health, limits changed). */
  readonly upstreamsChanged: readonly string[];
}

export function planReload(running: RuntimePlan, next: RuntimePlan): ReloadPlan {
  const needRestart: string[] = [];
  const server: Record<string, unknown> = { ...next.server };
  for (const [key, path] of restartOnly) {
    if (running.server[key] !== next.server[key]) {
      needRestart.push(path);
      server[key] = running.server[key];
    }
  }
  // [tls] (certificates, ACME) belongs to the HTTPS listener and the certificate manager: restart-only too.
  const sameTls = JSON.stringify(running.tls) === JSON.stringify(next.tls);
  if (!sameTls) needRestart.push('tls');
  // The admin listener is a socket too (and metrics are collected for it from the start).
  const sameAdmin = JSON.stringify(running.admin) === JSON.stringify(next.admin);
  if (!sameAdmin) needRestart.push('admin');
  // The cache's memory, Redis connections and LISTEN connection are made with the threads.
  // Routes' cache settings (cache = false, the default TTLs) follow the reload.
  let { cache, postgres } = next;
  if (cacheIdentity(running) !== cacheIdentity(next)) {
    needRestart.push('cache');
    cache = running.cache;
  }
  if (JSON.stringify(running.postgres ?? null) !== JSON.stringify(next.postgres ?? null)) {
    needRestart.push('postgres');
    postgres = running.postgres;
  }
  const plan: RuntimePlan =
    needRestart.length === 0
      ? next
      : Object.freeze({
          ...next,
          server: Object.freeze(server as unknown as ServerSpec),
          tls: sameTls ? next.tls : running.tls,
          admin: sameAdmin ? next.admin : running.admin,
          cache,
          postgres,
        });

  const before = countBy(running.routes.map(routeKey));
  const after = countBy(next.routes.map(routeKey));
  let routesAdded = 0;
  let routesRemoved = 0;
  for (const [key, n] of after) routesAdded += Math.max(0, n - (before.get(key) ?? 0));
  for (const [key, n] of before) routesRemoved += Math.max(0, n - (after.get(key) ?? 0));

  const upstreamsAdded = [...next.upstreams.keys()].filter((name) => !running.upstreams.has(name));
  const upstreamsRemoved = [...running.upstreams.keys()].filter((name) => !next.upstreams.has(name));
  const upstreamsChanged = [...next.upstreams].filter(([name, spec]) => {
    const old = running.upstreams.get(name);
    return old !== undefined && !sameUpstreamDefinition(old, spec);
  }).map(([name]) => name);

  return { plan, needRestart, routesAdded, routesRemoved, upstreamsAdded, upstreamsRemoved, upstreamsChanged };
}

/** The parts of `[cache]` only a restart can change (the default TTL is compiled into each route). */
function cacheIdentity(plan: RuntimePlan): string {
  if (plan.cache === undefined) return 'none';
  const { defaultTtlMs: _defaultTtl, ...rest } = plan.cache;
  return JSON.stringify(rest);
}

/** A route's identity for the summary: everything but its position. */
function routeKey(route: RouteSpec): string {
  const { index: _index, ...rest } = route;
  return JSON.stringify(rest);
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
