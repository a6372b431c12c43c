/**
 * The main thread's side of `server.worker_threads`: starts N - 1 proxy
 * workers on the port the main thread reserved, relays the supervisor's
 * readiness events to them, brings back one that dies (as nginx's master does
 * with a worker), and drains them on shutdown.
 *
 * Each worker is a complete, independent proxy (threads/proxy-worker.ts): its
 * own router, connection pools, active health checks and passive health. The
 * kernel spreads new connections across the threads' SO_REUSEPORT sockets; a
 * connection stays on the thread that accepted it.
 *
 * @module
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { InvalidationBus } from '../cache/invalidation-bus.js';
import type { RuntimePlan } from '../config/types.js';
import { createLogger } from '../log.js';
import type { ThreadSnapshot } from '../metrics/thread-snapshot.js';
import type { InstanceStateEvent } from '../upstream/state-events.js';
import type { FromProxyWorker, ProxyWorkerData, ToProxyWorker } from './protocol.js';
import type { HealthRecorder } from './health-relay.js';
import type { SupervisorRecorder } from './supervisor-relay.js';
import type { InstalledCertificate } from '../tls/live-files.js';
import type { TlsService } from '../tls/tls-service.js';

const log = createLogger('threads');
const workerUrl = new URL('./proxy-worker.js', import.meta.url);

/** A worker that dies is started again, unless this many died within the window: then it stays down. */
const MAX_DEATHS = 4;
const DEATH_WINDOW_MS = 60_000;
const RESPAWN_DELAY_MS = 500;
/** After the drain deadline, how long a worker may take to close before it is told to cut its connections. */
const STOP_GRACE_MS = 2_000;

/** The main thread's TLS service, shared with the proxy workers through messages. */
export interface WorkersTls {
  readonly httpsPort: number;
  readonly service: TlsService;
}

export class ProxyWorkerStartError extends Error {
  readonly code = 'WD_ERR_PROXY_WORKER';
}

class ProxyWorker {
  readonly thread: number;
  worker: Worker | undefined;
  deaths: number[] = [];
  respawnTimer: NodeJS.Timeout | undefined;

  constructor(thread: number) {
    this.thread = thread;
  }

  post(message: ToProxyWorker): void {
    this.worker?.postMessage(message);
  }
}

export class ProxyWorkers {
  /** The configuration workers serve: the start's, then each reload's (a respawned worker starts from it). */
  #plan: RuntimePlan;
  readonly #port: number;
  readonly #recorder: SupervisorRecorder | undefined;
  readonly #health: HealthRecorder | undefined;
  readonly #cacheBus: InvalidationBus | undefined;
  readonly #workers: ProxyWorker[];
  readonly #tls: WorkersTls | undefined;
  #stopping = false;
  /** Instances an operator drained: sent to every worker, and given to one that starts later. */
  #drained: readonly string[] = [];
  /** Where workers' ejections and restorations go (the main thread's InstanceStateLog). */
  onInstanceState: ((thread: number, event: InstanceStateEvent) => void) | undefined;
  #nextRequestId = 1;

  private constructor(
    plan: RuntimePlan,
    port: number,
    recorder: SupervisorRecorder | undefined,
    health: HealthRecorder | undefined,
    tls: WorkersTls | undefined,
    cacheBus: InvalidationBus | undefined,
  ) {
    this.#plan = plan;
    this.#tls = tls;
    this.#port = port;
    this.#recorder = recorder;
    this.#health = health;
    this.#cacheBus = cacheBus;
    this.#workers = Array.from({ length: plan.server.workerThreads - 1 }, (_, i) => new ProxyWorker(i + 1));
    recorder?.onLive((event) => {
      for (const w of this.#workers) w.post({ type: 'supervisor', event });
    });
    health?.on((message) => {
      for (const w of this.#workers) w.post({ type: 'health', message });
    });
    // ACME answers reach every thread before the CA is asked to validate (the CA may reach any of them).
    tls?.service.challenges?.onChange((change) => {
      for (const w of this.#workers) w.post({ type: 'acmeChallenge', change });
    });
  }

  /** Every proxy worker builds its next HTTPS listener with `certificates`. */
  swapCertificates(certificates: readonly InstalledCertificate[]): void {
    for (const w of this.#workers) w.post({ type: 'tlsCertificates', certificates });
  }

  /**
   * Starts `server.worker_threads - 1` proxy workers on `port` and resolves once
   * every one listens; rejects (after stopping those that did start) if one cannot.
   */
  static async start(
    plan: RuntimePlan,
    port: number,
    recorder: SupervisorRecorder | undefined,
    health: HealthRecorder | undefined,
    onInstanceState?: (thread: number, event: InstanceStateEvent) => void,
    tls?: WorkersTls | undefined,
    cacheBus?: InvalidationBus,
  ): Promise<ProxyWorkers> {
    const workers = new ProxyWorkers(plan, port, recorder, health, tls, cacheBus);
    workers.onInstanceState = onInstanceState;
    try {
      await Promise.all(workers.#workers.map((w) => workers.#spawn(w)));
    } catch (error) {
      await workers.stop(Date.now());
      throw error;
    }
    log.info(`${plan.server.workerThreads} proxy threads listening on port ${port}`);
    return workers;
  }

  /**
   * Has every worker build a generation from `plan` and swap it in; resolves once all
   * of them serve it. A worker that fails keeps its previous generation (it logs why);
   * the promise rejects naming it.
   */
  async reload(plan: RuntimePlan): Promise<void> {
    this.#plan = plan;
    const message: ToProxyWorker = { type: 'reload', plan, supervisor: this.#recorder?.snapshot(), health: this.#health?.snapshot() ?? [] };
    const failures: string[] = [];
    await Promise.all(
      this.#workers.map(async (slot) => {
        const worker = slot.worker;
        if (worker === undefined) return; // down (restarting): it starts from this plan
        const answer = new Promise<FromProxyWorker | undefined>((resolve) => {
          const onMessage = (reply: FromProxyWorker): void => {
            if (reply.type !== 'reloaded' && reply.type !== 'reloadFailed') return;
            worker.off('message', onMessage);
            worker.off('exit', onExit);
            resolve(reply);
          };
          const onExit = (): void => {
            worker.off('message', onMessage);
            resolve(undefined);
          };
          worker.on('message', onMessage);
          worker.once('exit', onExit);
        });
        worker.postMessage(message);
        const reply = await answer;
        if (reply?.type === 'reloadFailed') failures.push(`proxy thread ${slot.thread}: ${reply.message}`);
      }),
    );
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  /**
   * Every running worker's snapshot (counters, instances, errors). A worker that does
   * not answer within `timeoutMs` (busy, or restarting) is left out of this one.
   */
  collect(timeoutMs: number): Promise<ThreadSnapshot[]> {
    return this.#ask(timeoutMs, (id) => ({ type: 'collect', id }), (reply, id) => (reply.type === 'snapshot' && reply.id === id ? reply.snapshot : undefined));
  }

  /** SIGUSR1: every worker opens the access-log file again; resolves with what each reported. */
  reopenLogFile(timeoutMs: number): Promise<string[]> {
    return this.#ask(timeoutMs, (id) => ({ type: 'reopenLogFile', id }), (reply, id) => (reply.type === 'logFileReopened' && reply.id === id ? reply.message : undefined));
  }

  /** The instances an operator has drained (the rest are enabled), on every worker. */
  setDrained(ids: readonly string[]): void {
    this.#drained = [...ids];
    for (const w of this.#workers) w.post({ type: 'drained', ids: this.#drained });
  }

  /** Sends each running worker a request and gathers the matching replies, each within `timeoutMs`. */
  async #ask<T>(timeoutMs: number, request: (id: number) => ToProxyWorker, match: (reply: FromProxyWorker, id: number) => T | undefined): Promise<T[]> {
    const id = this.#nextRequestId++;
    const answers = await Promise.all(
      this.#workers.map((slot) => {
        const worker = slot.worker;
        if (worker === undefined) return undefined;
        return new Promise<T | undefined>((resolve) => {
          const done = (value: T | undefined): void => {
            clearTimeout(timer);
            worker.off('message', onMessage);
            worker.off('exit', onExit);
            resolve(value);
          };
          const onMessage = (reply: FromProxyWorker): void => {
            const value = match(reply, id);
            if (value !== undefined) done(value);
          };
          const onExit = (): void => done(undefined);
          const timer = setTimeout(() => done(undefined), timeoutMs);
          worker.on('message', onMessage);
          worker.once('exit', onExit);
          worker.postMessage(request(id));
        });
      }),
    );
    return answers.filter((a): a is Awaited<T> => a !== undefined);
  }

  /** Drains every worker until `deadline` (Date.now() value) and waits for them to end. */
  async stop(deadline: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#workers.map((w) => this.#stopOne(w, deadline)));
  }

  /**
   * Ends a proxy worker abruptly, as a crash would, and resolves once it is gone
   * (the restart follows as after any unexpected exit). For tests.
   */
  async crashForTest(thread: number): Promise<void> {
    const worker = this.#workers.find((w) => w.thread === thread)?.worker;
    if (!worker) return;
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'crashForTest' } satisfies ToProxyWorker);
    await exited;
  }

  #spawn(slot: ProxyWorker): Promise<void> {
    const data: ProxyWorkerData = {
      plan: this.#plan,
      port: this.#port,
      thread: slot.thread,
      supervisor: this.#recorder?.snapshot(),
      health: this.#health?.snapshot() ?? [],
      drained: this.#drained,
      tls:
        this.#tls === undefined
          ? undefined
          : {
              httpsPort: this.#tls.httpsPort,
              acmeDomains: this.#tls.service.acmeDomains,
              // The present, for a worker that starts (or restarts) after a renewal.
              certificates: this.#tls.service.certificates,
              challenges: this.#tls.service.challenges?.snapshot() ?? [],
            },
    };
    const worker = new Worker(workerUrl, { workerData: data });
    slot.worker = worker;
    // Cache invalidations: this worker's go to the bus, the bus's (from elsewhere) come to it.
    const bus = this.#cacheBus;
    bus?.addWorker(slot.thread, (patterns) => worker.postMessage({ type: 'cacheInvalidate', patterns } satisfies ToProxyWorker));
    return new Promise((resolve, reject) => {
      let listening = false;
      let lastError: Error | undefined;
      worker.on('message', (message: FromProxyWorker) => {
        if (message.type === 'instanceState') {
          this.onInstanceState?.(slot.thread, message.event);
          return;
        }
        if (message.type === 'cacheInvalidate') {
          void bus?.publish(message.patterns, slot.thread);
          return;
        }
        if (message.type === 'acmeLookup') {
          void this.#tls?.service.challenges?.lookup(message.token).then((keyAuthorization) => {
            if (keyAuthorization !== undefined) slot.post({ type: 'acmeChallenge', change: { token: message.token, keyAuthorization } });
          });
          return;
        }
        if (message.type === 'listening') {
          listening = true;
          resolve();
        } else if (message.type === 'startFailed') {
          reject(new ProxyWorkerStartError(`proxy thread ${slot.thread} could not start: ${message.message}`));
        }
      });
      worker.on('error', (error) => {
        lastError = error;
        log.error(`proxy thread ${slot.thread} crashed: ${error.stack ?? error.message}`);
      });
      worker.once('exit', (code) => {
        if (slot.worker === worker) {
          slot.worker = undefined;
          bus?.removeWorker(slot.thread);
        }
        if (!listening) {
          reject(new ProxyWorkerStartError(`proxy thread ${slot.thread} exited before listening (code ${code})${lastError ? `: ${lastError.message}` : ''}`));
          return;
        }
        if (!this.#stopping) this.#onDeath(slot, code);
      });
    });
  }

  #onDeath(slot: ProxyWorker, code: number): void {
    const now = Date.now();
    slot.deaths = slot.deaths.filter((at) => now - at < DEATH_WINDOW_MS);
    slot.deaths.push(now);
    if (slot.deaths.length >= MAX_DEATHS) {
      log.error(`proxy thread ${slot.thread} died ${slot.deaths.length} times within ${DEATH_WINDOW_MS / 1000} s (last exit code ${code}); not starting it again`);
      return;
    }
    log.warn(`proxy thread ${slot.thread} exited (code ${code}); starting it again in ${RESPAWN_DELAY_MS} ms`);
    slot.respawnTimer = setTimeout(() => {
      slot.respawnTimer = undefined;
      if (this.#stopping) return;
      this.#spawn(slot).catch((error: Error) => log.error(error.message));
    }, RESPAWN_DELAY_MS);
  }

  async #stopOne(slot: ProxyWorker, deadline: number): Promise<void> {
    clearTimeout(slot.respawnTimer);
    const worker = slot.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'stop', deadline } satisfies ToProxyWorker);
    let timer: NodeJS.Timeout | undefined;
    const forced = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + STOP_GRACE_MS, true))),
    ]);
    clearTimeout(timer);
    if (!forced) return;
    // Never Worker.terminate(): see threads/proxy-worker.ts. The worker closes its own sockets.
    log.warn(`proxy thread ${slot.thread} did not finish closing; cutting its connections`);
    worker.postMessage({ type: 'abort' } satisfies ToProxyWorker);
    const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS, false)))]);
    clearTimeout(timer);
    if (!ended) log.error(`proxy thread ${slot.thread} does not respond; leaving it`);
  }
}
