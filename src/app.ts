/**
 * Assembles a running warpdrive from a runtime plan: upstreams, router, proxy,
 * supervisor, ingress; and takes it down again in the right order.
 *
 * Start: upstreams (instances of supervised upstreams start "not ready"), the
 * supervisor worker (which makes them ready as their processes listen), then the
 * listening socket. Requests that arrive for a starting upstream wait for it.
 *
 * Stop (SIGTERM/SIGINT): stop accepting, let in-flight requests finish (up to
 * server.shutdown_timeout_secs), stop supervised processes dependents-first,
 * close upstream connections, exit 0.
 *
 * @module
 */
import type { RuntimePlan } from './config/types.js';
import { startIngress, type IngressServer } from './ingress/server.js';
import { WebSocketGateway } from './ingress/websocket.js';
import { createLogger } from './log.js';
import { Proxy } from './proxy/proxy.js';
import { ProxyRoute } from './proxy/route.js';
import { createRouter } from './router/create-router.js';
import { SupervisorClient } from './supervisor/client.js';
import { createUpstreams, linkSupervisor, type Upstream } from './upstream/index.js';

const log = createLogger('warpdrive');

export interface StartOptions {
  /** `--only`: supervise just these units (and what they depend on). */
  readonly only?: readonly string[] | undefined;
  /** `--except`: supervise all units but these. */
  readonly except?: readonly string[] | undefined;
}

export interface RunningWarpdrive {
  readonly port: number;
  readonly proxy: Proxy;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly supervisor: SupervisorClient | undefined;
  /** Graceful stop; resolves when everything is closed. Safe to call twice. */
  stop(reason: string): Promise<void>;
}

/** Builds the routes the proxy matches: each RouteSpec joined to its live Upstream. */
export function buildRoutes(plan: RuntimePlan, upstreams: ReadonlyMap<string, Upstream>): ProxyRoute[] {
  return plan.routes.map((spec) => new ProxyRoute(spec, upstreams.get(spec.upstream)!, plan.upstreams.get(spec.upstream)!));
}

export async function startWarpdrive(plan: RuntimePlan, options: StartOptions = {}): Promise<RunningWarpdrive> {
  for (const feature of plan.inactive) log.warn(`${feature} is configured but not active yet in this version; it is ignored`);
  const upstreams = createUpstreams(plan);
  const router = createRouter(buildRoutes(plan, upstreams));
  const proxy = new Proxy({ plan, router });
  const websockets = new WebSocketGateway({ plan, router });

  let supervisor: SupervisorClient | undefined;
  if (plan.processOrder.length > 0) {
    supervisor = SupervisorClient.start(plan, { only: options.only, except: options.except });
    linkSupervisor(upstreams, supervisor);
  }
  for (const upstream of upstreams.values()) upstream.start();

  let ingress: IngressServer;
  try {
    ingress = await startIngress(plan.server.bindAddress, plan.server.httpPort, proxy, (app) => websockets.register(app));
  } catch (error) {
    await supervisor?.stop();
    await Promise.all([...upstreams.values()].map((u) => u.close()));
    throw error;
  }
  const shownHost = plan.server.bindAddress.includes(':') ? `[${plan.server.bindAddress}]` : plan.server.bindAddress;
  log.info(`listening on http://${shownHost}:${ingress.port} (config: ${plan.source})`);

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info(`${reason}: no longer accepting connections; waiting for ${proxy.inFlight} in-flight request(s)`);
      ingress.stopListening();
      const timeoutMs = plan.server.shutdownTimeoutMs;
      const startedAt = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        proxy.drain().then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, true))),
      ]);
      clearTimeout(timer);
      if (timedOut) log.warn(`shutdown timeout (${timeoutMs} ms) passed with ${proxy.inFlight} request(s) still in flight; closing them`);
      // WebSockets never finish by themselves: once HTTP has drained they are closed with 1001 (going away).
      await websockets.closeAll(1001, 'server shutting down', Math.max(1000, timeoutMs - (Date.now() - startedAt)));
      if (supervisor) await supervisor.stop();
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      ingress.closeAll();
      log.info('stopped');
    })();
    return stopping;
  };

  return { port: ingress.port, proxy, upstreams, supervisor, stop };
}
