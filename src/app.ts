/**
 * Assembles a running warpdrive from a runtime plan: the supervisor, the proxy
 * thread stacks (main thread plus `worker_threads - 1` workers), and takes it
 * down again in the right order. Reload (SIGHUP, `warpdrive reload`) lives here
 * too, since it touches all of them.
 *
 * Start: the supervisor worker (instances of supervised upstreams start "not
 * ready" and become ready as their processes listen), then the proxy threads.
 * Requests that arrive for a starting upstream wait for it.
 *
 * Stop (SIGTERM/SIGINT): stop accepting, let in-flight requests finish (up to
 * server.shutdown_timeout_secs), stop supervised processes dependents-first,
 * close upstream connections, exit 0.
 *
 * Reload: load and check the file exactly as `check` does (an invalid file keeps
 * the running configuration and logs every problem); tell the supervisor (new
 * processes start, changed ones restart one at a time per upstream); build the
 * next generation in every proxy thread and swap it in; once the previous
 * generations have no request left, stop the processes that were removed.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { AdminServer, type AdminHost } from './admin/admin-server.js';
import { ProcessLogs } from './admin/process-logs.js';
import { restartProcesses } from './admin/rolling-restart.js';
import { CacheCoordinator } from './cache/cache-coordinator.js';
import { ConfigError, ENVIRONMENT_SOURCE, type RuntimePlan } from './config/index.js';
import { describeCache } from './config/summary.js';
import { reservePort } from './ingress/server.js';
import type { ChallengeAnswers } from './tls/challenge-board.js';
import { TlsService } from './tls/tls-service.js';
import type { InstalledCertificate } from './tls/live-files.js';
import { createLogger } from './log.js';
import { ProxyStack } from './proxy-stack.js';
import { planReload, type ReloadPlan } from './runtime/reload-plan.js';
import { SupervisorClient, type SupervisorChanges } from './supervisor/client.js';
import { SupervisorSelectionError } from './supervisor/index.js';
import { HealthRecorder } from './threads/health-relay.js';
import { ProxyWorkers } from './threads/proxy-workers.js';
import { SupervisorRecorder } from './threads/supervisor-relay.js';
import type { Upstream } from './upstream/index.js';
import { describeAddress } from './upstream/instance.js';
import { InstanceStateLog, setInstanceStateReporter } from './upstream/state-events.js';
import { probeAddress } from './runtime/simple-mode-probe.js';

const log = createLogger('warpdrive');
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface StartOptions {
  /** `--only`: supervise just these units (and what they depend on). */
  readonly only?: readonly string[] | undefined;
  /** `--except`: supervise all units but these. */
  readonly except?: readonly string[] | undefined;
  /** Loads the configuration again for a reload (throws ConfigError); absent: nothing to reload from. */
  readonly load?: (() => RuntimePlan) | undefined;
}

/** How a reload ended. */
export type ReloadOutcome =
  | { readonly ok: true; readonly summary: string }
  | { readonly ok: false; readonly error: string; readonly code: string };

export interface RunningWarpdrive {
  readonly port: number;
  /** The main thread's proxy stack (with worker_threads above 1, each worker has its own). */
  readonly stack: ProxyStack;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly supervisor: SupervisorClient | undefined;
  /** The admin listener, when `[admin]` is configured. */
  readonly admin: AdminServer | undefined;
  /** The configuration being served (the last successful reload's). */
  readonly plan: RuntimePlan;
  /** SIGUSR1: every proxy thread opens the access-log file again (after logrotate renamed it). */
  reopenLogFile(): Promise<void>;
  /** The cache's main-thread services (`[cache]`). */
  readonly cache: CacheCoordinator | undefined;
  /** Loads the configuration again and swaps it in; never throws. Reloads run one at a time. */
  reload(reason: string): Promise<ReloadOutcome>;
  /** Graceful stop; resolves when everything is closed. Safe to call twice. */
  stop(reason: string): Promise<void>;
}

/** File certificates only: no ACME order, so no challenge to answer. */
const noChallenges: ChallengeAnswers = { answer: () => undefined, lookup: () => Promise.resolve(undefined) };

export async function startWarpdrive(initialPlan: RuntimePlan, options: StartOptions = {}): Promise<RunningWarpdrive> {
  let plan = initialPlan;
  const threads = plan.server.workerThreads;
  // Several proxy threads share the port (SO_REUSEPORT); check it is free first, before any process starts.
  const port = threads > 1 ? await reservePort(plan.server.bindAddress, plan.server.httpPort) : plan.server.httpPort;
  // The HTTPS listener is rebuilt on each certificate change and joins its own port (SO_REUSEPORT), so it is always reserved.
  const tlsOn = plan.tls?.enabled === true && plan.server.httpsPort !== undefined;
  const httpsPort = tlsOn ? await reservePort(plan.server.bindAddress, plan.server.httpsPort!) : undefined;
  const tls = tlsOn ? await TlsService.start(plan) : undefined;

  const startedAt = Date.now();
  // The dashboard's log tail: only kept when there is an admin listener to show it.
  const processLogs = plan.admin === undefined ? undefined : new ProcessLogs();
  let supervisor: SupervisorClient | undefined;
  let recorder: SupervisorRecorder | undefined;
  const startSupervisor = (from: RuntimePlan): void => {
    supervisor = SupervisorClient.start(from, { only: options.only, except: options.except, forwardLogs: processLogs !== undefined });
    if (processLogs !== undefined) supervisor.on(processLogs.listener);
    // Follows the supervisor from its first event, so that generations and proxy workers started later know the present.
    recorder = new SupervisorRecorder(supervisor);
  };
  if (plan.processOrder.length > 0) startSupervisor(plan);
  // The main thread alone probes; proxy workers mirror what it finds.
  const health = threads > 1 ? new HealthRecorder() : undefined;
  // With several threads, ejections and readiness are logged once for all of them (upstream/state-events.ts).
  const stateLog = threads > 1 ? new InstanceStateLog() : undefined;
  if (stateLog !== undefined) setInstanceStateReporter((event) => stateLog.report(0, event));

  let stack: ProxyStack;
  let workers: ProxyWorkers | undefined;
  let coordinator: CacheCoordinator | undefined;
  // What the main thread's listener starts with: an order may complete while the threads start.
  const startedWith = tls?.certificates;
  try {
    stack = await ProxyStack.start(plan, {
      port,
      listen: threads > 1 ? 'shared' : 'exclusive',
      supervisor: () => recorder,
      thread: 0,
      activeHealthChecks: true,
      onGeneration: (generation) => health?.watch(generation),
      tls: tls === undefined ? undefined : { httpsPort: httpsPort!, acmeDomains: tls.acmeDomains, certificates: startedWith!, challenges: tls.challenges ?? noChallenges },
    });
    // The cache's main-thread side: the invalidation bus (every thread, Redis once) and the LISTEN connection.
    if (stack.cache !== undefined) {
      for (const line of describeCache(plan)) log.info(line.trim());
      coordinator = new CacheCoordinator(plan, stack.cache);
    }
    try {
      if (threads > 1) {
        workers = await ProxyWorkers.start(
          plan,
          stack.port,
          recorder,
          health,
          (thread, event) => stateLog?.report(thread, event),
          tls === undefined ? undefined : { httpsPort: httpsPort!, service: tls },
          coordinator?.bus,
        );
      }
    } catch (error) {
      await coordinator?.close();
      await stack.close();
      throw error;
    }
  } catch (error) {
    await supervisor?.stop();
    await tls?.stop();
    throw error;
  }
  const shownHost = plan.server.bindAddress.includes(':') ? `[${plan.server.bindAddress}]` : plan.server.bindAddress;
  if (tls !== undefined) {
    // Before the http line, which tools (and the tests) wait for: the https one is then already out.
    log.info(`listening on https://${shownHost}:${httpsPort} (${tls.certificates.length} certificate(s) now${tls.acmeDomains.length > 0 ? `; ACME for ${tls.acmeDomains.join(', ')}` : ''})`);
    // New and renewed certificates: every proxy thread builds its next listener; open connections keep theirs.
    const serve = (certificates: InstalledCertificate[]): void => {
      stack.swapCertificates(certificates).then(
        () => log.info(`now serving ${certificates.length} certificate(s) on https port ${httpsPort}`),
        (error: unknown) => log.error(`could not swap certificates into the main thread's listener: ${String(error)}`),
      );
      workers?.swapCertificates(certificates);
    };
    tls.onChange(serve);
    // Certificates that arrived while the proxy threads were starting (workers spawned after it already have them).
    if (tls.certificates !== startedWith) serve(tls.certificates);
  }
  log.info(`listening on http://${shownHost}:${stack.port} (config: ${plan.source})`);
  if (plan.source === ENVIRONMENT_SOURCE) void warnIfTargetSilent(plan);

  /** Instances an operator drained through the admin API, by id; kept across reloads. */
  let drained = new Set<string>();
  const reloads = { ok: 0, failed: 0 };
  const setDrained = (instanceId: string, drain: boolean): boolean => {
    const known = [...plan.upstreams.values()].some((u) => u.instances.some((i) => i.id === instanceId));
    if (!known) return false;
    const next = new Set(drained);
    if (drain) next.add(instanceId);
    else next.delete(instanceId);
    drained = next;
    stack.setDrained(drained);
    workers?.setDrained([...drained]);
    return true;
  };
  const adminHost: AdminHost = {
    plan: () => plan,
    snapshots: async () => [stack.snapshot(), ...((await workers?.collect(2_000)) ?? [])],
    processes: () => supervisor?.states() ?? [],
    processLogs,
    facts: () => {
      const cpu = process.cpuUsage();
      return {
        version,
        startTimeSeconds: startedAt / 1000,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        residentBytes: process.memoryUsage.rss(),
        proxyThreads: plan.server.workerThreads,
        generation: stack.generation.id,
        reloads: { ...reloads },
        tls:
          tls === undefined
            ? undefined
            : {
                certificates: tls.certificates.map((c) => ({ names: c.names, source: c.source, notAfterSeconds: c.notAfter.getTime() / 1000 })),
                acme: tls.status().map((d) => ({ domain: d.domain, hasCertificate: d.info !== undefined, failing: d.lastFailure !== undefined })),
              },
      };
    },
    setDrained,
    restart: (name) => restartProcesses(supervisor, name),
    reload: (reason) => reload(reason),
  };
  let admin: AdminServer | undefined;
  if (plan.admin !== undefined) {
    try {
      admin = await AdminServer.start(plan.admin, adminHost);
    } catch (error) {
      stack.stopListening();
      await Promise.all([workers?.stop(Date.now()), stack.close(), supervisor?.stop()]);
      throw error;
    }
  }

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      await reloading.catch(() => undefined);
      log.info(`${reason}: no longer accepting connections; waiting for ${stack.pipeline.inFlight} in-flight request(s)${workers ? ' on the main thread and the proxy workers' : ''}`);
      const deadline = Date.now() + plan.server.shutdownTimeoutMs;
      stack.stopListening();
      // Every proxy thread drains at once; processes are stopped only when all of them are done.
      await Promise.all([stack.drain(deadline, plan.server.shutdownTimeoutMs), workers?.stop(deadline)]);
      if (supervisor) await supervisor.stop();
      await coordinator?.close();
      await stack.close();
      await tls?.stop();
      await admin?.close();
      log.info('stopped');
    })();
    return stopping;
  };

  /** One reload at a time: each waits for the previous one, including its process stops. */
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (reason: string): Promise<ReloadOutcome> => {
    const run = reloading.then(() => reloadNow(reason)).then((outcome) => {
      if (outcome.ok) reloads.ok++;
      else reloads.failed++;
      return outcome;
    });
    reloading = run.catch(() => undefined);
    return run;
  };

  async function reloadNow(reason: string): Promise<ReloadOutcome> {
    if (stopping) return { ok: false, code: 'WD_ERR_STOPPING', error: 'warpdrive is stopping' };
    if (options.load === undefined) {
      const error = 'nothing to reload: in simple mode the configuration comes from environment variables, which a running process cannot read again; restart instead';
      log.warn(`${reason}: ${error}`);
      return { ok: false, code: 'WD_ERR_RELOAD_SIMPLE_MODE', error };
    }
    let next: ReloadPlan;
    try {
      next = planReload(plan, options.load());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.error(`${reason}: reload refused, still serving the previous configuration: ${message}`);
      return { ok: false, code: error instanceof ConfigError ? error.code : 'WD_ERR_RELOAD', error: message };
    }
    let changes: SupervisorChanges = { started: [], stopped: [], restarted: [] };
    try {
      if (supervisor) {
        // Removed processes keep running until no request of an older generation can need them.
        changes = supervisor.update(next.plan, { keepRemoved: true });
        recorder!.setUnits(supervisor);
      } else if (next.plan.processOrder.length > 0) {
        startSupervisor(next.plan);
        changes = { started: supervisor!.units.map((u) => u.name), stopped: [], restarted: [] };
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.error(`${reason}: reload refused, still serving the previous configuration: ${message}`);
      return { ok: false, code: error instanceof SupervisorSelectionError ? error.code : 'WD_ERR_RELOAD', error: message };
    }
    const previous = stack.generation;
    const generation = stack.reload(next.plan);
    // Rebuilt instances start afresh on every thread: what was logged of their predecessors no longer holds.
    stateLog?.forget([...generation.created].flatMap((u) => u.instances.map((i) => i.id)));
    let workerProblem = '';
    try {
      await workers?.reload(next.plan);
    } catch (error) {
      workerProblem = `; ${error instanceof Error ? error.message : String(error)}`;
    }
    plan = next.plan;
    const summary = describeReload(next, changes) + workerProblem;
    log.info(`${reason}: reloaded (${summary})`);
    if (changes.stopped.length > 0) {
      // The previous generation has no request left (or the shutdown timeout passed): stop what was removed.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([previous.retire(), new Promise((resolve) => (timer = setTimeout(resolve, plan.server.shutdownTimeoutMs)))]);
      clearTimeout(timer);
      supervisor?.update(plan);
    }
    return { ok: true, summary };
  }

  const reopenLogFile = async (): Promise<void> => {
    const results = [stack.reopenLogFile(), ...((await workers?.reopenLogFile(2_000)) ?? [])];
    const distinct = [...new Set(results)];
    log.info(`SIGUSR1 received: ${distinct.join('; ')}${results.length > 1 ? ` (${results.length} proxy threads)` : ''}`);
  };

  return {
    port: stack.port,
    stack,
    admin,
    reopenLogFile,
    get upstreams() {
      return stack.upstreams;
    },
    get supervisor() {
      return supervisor;
    },
    get plan() {
      return plan;
    },
    cache: coordinator,
    reload,
    stop,
  };
}

/** Simple mode: says once, at start, when nothing answers at the target (a typo, or the app is not up yet). */
async function warnIfTargetSilent(plan: RuntimePlan): Promise<void> {
  const instance = [...plan.upstreams.values()][0]?.instances[0];
  if (instance === undefined) return;
  const problem = await probeAddress(instance.address);
  if (problem === undefined) {
    log.debug(`simple mode: ${describeAddress(instance)} answers`);
    return;
  }
  log.warn(
    `simple mode: nothing answers at ${describeAddress(instance)} (${problem}); requests will get 502 until something listens there. ` +
      'Set WARPDRIVE_TARGET_HOST and WARPDRIVE_TARGET_PORT (or WARPDRIVE_TARGET_SOCKET) to where your app listens.',
  );
}

/** The one-line summary a reload logs. */
function describeReload(next: ReloadPlan, changes: SupervisorChanges): string {
  const parts = [`routes +${next.routesAdded} -${next.routesRemoved}`];
  if (next.upstreamsAdded.length > 0) parts.push(`upstreams added: ${next.upstreamsAdded.join(', ')}`);
  if (next.upstreamsRemoved.length > 0) parts.push(`upstreams removed: ${next.upstreamsRemoved.join(', ')}`);
  if (next.upstreamsChanged.length > 0) parts.push(`upstreams rebuilt: ${next.upstreamsChanged.join(', ')}`);
  if (changes.started.length > 0) parts.push(`processes started: ${changes.started.join(', ')}`);
  if (changes.stopped.length > 0) parts.push(`processes stopped: ${changes.stopped.join(', ')}`);
  if (changes.restarted.length > 0) parts.push(`processes restarted: ${changes.restarted.join(', ')}`);
  if (next.needRestart.length > 0) parts.push(`needs a restart to change: ${next.needRestart.join(', ')}`);
  return parts.join('; ');
}
