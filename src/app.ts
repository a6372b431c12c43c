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
import { reservePort } from './ingress/server.js';
import { createLogger } from './log.js';
import type { Proxy } from './proxy/proxy.js';
import { startProxyStack, type ProxyStack } from './proxy-stack.js';
import { SupervisorClient } from './supervisor/client.js';
import { ProxyWorkers } from './threads/proxy-workers.js';
import { HealthRecorder } from './threads/health-relay.js';
import { SupervisorRecorder } from './threads/supervisor-relay.js';
import type { Upstream } from './upstream/index.js';

export { buildRoutes } from './proxy-stack.js';

const log = createLogger('warpdrive');

export interface StartOptions {
  /** `--only`: supervise just these units (and what they depend on). */
  readonly only?: readonly string[] | undefined;
  /** `--except`: supervise all units but these. */
  readonly except?: readonly string[] | undefined;
}

export interface RunningWarpdrive {
  readonly port: number;
  /** The main thread's proxy (with worker_threads above 1, each worker has its own). */
  readonly proxy: Proxy;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly supervisor: SupervisorClient | undefined;
  /** Graceful stop; resolves when everything is closed. Safe to call twice. */
  stop(reason: string): Promise<void>;
}

export async function startWarpdrive(plan: RuntimePlan, options: StartOptions = {}): Promise<RunningWarpdrive> {
  for (const feature of plan.inactive) log.warn(`${feature} is configured but not active yet in this version; it is ignored`);
  const threads = plan.server.workerThreads;
  // Several proxy threads share the port (SO_REUSEPORT); check it is free first, before any process starts.
  const port = threads > 1 ? await reservePort(plan.server.bindAddress, plan.server.httpPort) : plan.server.httpPort;

  let supervisor: SupervisorClient | undefined;
  if (plan.processOrder.length > 0) supervisor = SupervisorClient.start(plan, { only: options.only, except: options.except });
  // Follows the supervisor from its first event, so that proxy workers started later know the present.
  const recorder = threads > 1 && supervisor ? new SupervisorRecorder(supervisor) : undefined;

  let stack: ProxyStack;
  let workers: ProxyWorkers | undefined;
  try {
    // Subscribes to the supervisor synchronously, before any of its events can arrive.
    let health: HealthRecorder | undefined;
    stack = await startProxyStack(plan, {
      port,
      listen: threads > 1 ? 'shared' : 'exclusive',
      supervisor,
      thread: 0,
      activeHealthChecks: true,
      // The main thread alone probes; proxy workers mirror what it finds.
      onUpstreams: threads > 1 ? (upstreams) => (health = new HealthRecorder(upstreams)) : undefined,
    });
    try {
      if (threads > 1) workers = await ProxyWorkers.start(plan, stack.port, recorder, health);
    } catch (error) {
      await stack.close();
      throw error;
    }
  } catch (error) {
    await supervisor?.stop();
    throw error;
  }
  const shownHost = plan.server.bindAddress.includes(':') ? `[${plan.server.bindAddress}]` : plan.server.bindAddress;
  log.info(`listening on http://${shownHost}:${stack.port} (config: ${plan.source})`);

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info(`${reason}: no longer accepting connections; waiting for ${stack.proxy.inFlight} in-flight request(s)${workers ? ' on the main thread and the proxy workers' : ''}`);
      const deadline = Date.now() + plan.server.shutdownTimeoutMs;
      stack.stopListening();
      // Every proxy thread drains at once; processes are stopped only when all of them are done.
      await Promise.all([stack.drain(deadline), workers?.stop(deadline)]);
      if (supervisor) await supervisor.stop();
      await stack.close();
      log.info('stopped');
    })();
    return stopping;
  };

  return { port: stack.port, proxy: stack.proxy, upstreams: stack.upstreams, supervisor, stop };
}
