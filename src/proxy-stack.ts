/**
 * One proxy thread's share of a running warpdrive: its upstreams (connection
 * pools, health checks, passive health), the compiled router, the HTTP proxy,
 * the WebSocket gateway and the listening uWS app. The main thread runs one;
 * with `server.worker_threads = N`, N - 1 proxy workers (threads/proxy-worker.ts)
 * run one each on the same port. Everything here belongs to the thread that
 * built it: nothing is shared, so the hot path takes no lock.
 *
 * @module
 */
import type { RuntimePlan } from './config/types.js';
import { startIngress, type IngressServer, type ListenMode } from './ingress/server.js';
import { WebSocketGateway } from './ingress/websocket.js';
import { createLogger } from './log.js';
import { Proxy } from './proxy/proxy.js';
import { ProxyRoute } from './proxy/route.js';
import { createRouter } from './router/create-router.js';
import { createUpstreams, linkSupervisor, type SupervisorSource, type Upstream } from './upstream/index.js';

const log = createLogger('warpdrive');

/** How long a stop waits for the access log to reach stdout. */
const ACCESS_LOG_FLUSH_MS = 2_000;

/** Builds the routes the proxy matches: each RouteSpec joined to its live Upstream. */
export function buildRoutes(plan: RuntimePlan, upstreams: ReadonlyMap<string, Upstream>): ProxyRoute[] {
  return plan.routes.map((spec) => new ProxyRoute(spec, upstreams.get(spec.upstream)!, plan.upstreams.get(spec.upstream)!));
}

export interface ProxyStackOptions {
  /** The port to listen on (0: any free port). */
  readonly port: number;
  readonly listen: ListenMode;
  /** Process readiness for supervised upstreams; absent when nothing is supervised here. */
  readonly supervisor?: SupervisorSource | undefined;
  /** 0 on the main thread, 1.. on proxy workers; shown as `thread=` in the access log. */
  readonly thread: number;
  /**
   * Whether this thread probes its instances itself. Proxy workers do not: the main
   * thread's checks are relayed to them (threads/health-relay.ts).
   */
  readonly activeHealthChecks: boolean;
  /** Called with the upstreams once they are linked and before anything can happen to them. */
  readonly onUpstreams?: (upstreams: ReadonlyMap<string, Upstream>) => void;
}

export interface ProxyStack {
  readonly port: number;
  readonly proxy: Proxy;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  /** Stops accepting connections; connections already open are still served. */
  stopListening(): void;
  /**
   * Lets in-flight HTTP requests finish until `deadline` (a `Date.now()` value),
   * then closes WebSockets with 1001 (they never finish by themselves).
   */
  drain(deadline: number): Promise<void>;
  /** Closes every client connection at once (what `close` ends with). */
  closeConnections(): void;
  /** Closes upstream connections, health checks and every remaining client connection. */
  close(): Promise<void>;
}

export async function startProxyStack(plan: RuntimePlan, options: ProxyStackOptions): Promise<ProxyStack> {
  const upstreams = createUpstreams(plan);
  const router = createRouter(buildRoutes(plan, upstreams));
  const proxy = new Proxy({ plan, router, thread: options.thread });
  const websockets = new WebSocketGateway({ plan, router });
  if (options.supervisor) linkSupervisor(upstreams, options.supervisor);
  options.onUpstreams?.(upstreams);
  if (options.activeHealthChecks) for (const upstream of upstreams.values()) upstream.start();

  let ingress: IngressServer;
  try {
    ingress = await startIngress(plan.server.bindAddress, options.port, proxy, (app) => websockets.register(app), options.listen);
  } catch (error) {
    await Promise.all([...upstreams.values()].map((u) => u.close()));
    throw error;
  }

  return {
    port: ingress.port,
    proxy,
    upstreams,
    stopListening: () => ingress.stopListening(),
    closeConnections: () => ingress.closeAll(),
    async drain(deadline) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        proxy.drain().then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), true))),
      ]);
      clearTimeout(timer);
      if (timedOut) log.warn(`shutdown timeout (${plan.server.shutdownTimeoutMs} ms) passed with ${proxy.inFlight} request(s) still in flight; closing them`);
      await websockets.closeAll(1001, 'server shutting down', Math.max(1000, deadline - Date.now()));
    },
    async close() {
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      ingress.closeAll();
      // The last access-log lines, unless stdout is stuck: then they are not worth hanging the exit for.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([proxy.flushAccessLog(), new Promise((resolve) => (timer = setTimeout(resolve, ACCESS_LOG_FLUSH_MS)))]);
      clearTimeout(timer);
    },
  };
}
