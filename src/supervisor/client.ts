/**
 * The main thread's handle on the supervisor worker: starts it with the
 * selected units, turns its events into a per-unit state table, and restarts
 * the worker if it dies.
 *
 * When the worker thread dies, its children die with it: each unit's watch pipe
 * (guard.ts) belonged to the worker's event loop, so the thread's teardown
 * closes it and every guard tears its process group down. Re-adopting running
 * children from a new thread is not possible with node:child_process (their
 * pipes and exit notifications are bound to the dead thread), so the client does
 * the next safe thing: it waits until the old process groups are gone (ports
 * free), starts a fresh worker, and the fleet starts again in dependency order.
 * Instances are out of the pool meanwhile (`stopping`/`exited` semantics via
 * `workerLost`). After `maxWorkerRestarts` deaths within `workerRestartWindowMs`
 * it gives up: every unit is reported failed and the fleet stays down (the proxy
 * keeps serving whatever is not supervised).
 *
 * @module
 */

import { Worker } from 'node:worker_threads';
import { createLogger, type Logger } from '../log.js';
import type { RuntimePlan } from '../config/types.js';
import { defaultRestartPolicy } from './restart-policy.js';
import { waitGroupsGone } from './process-group.js';
import { selectUnits, unitRunsDifferently, unitsOfPlan, type Selection } from './units.js';
import type { RestartPolicy, SupervisorCommand, SupervisorEvent, UnitSpec, WireError, WorkerOptions } from './protocol.js';

export interface SupervisorStartOptions extends Selection {
  /** Overrides of the crash policy (defaults in restart-policy.ts). */
  readonly restart?: Partial<RestartPolicy>;
  /** pidusage sampling interval; 0 turns stats (and max_memory_mb) off. Default 5000. */
  readonly statsIntervalMs?: number;
  /** Interval between readiness probes while a unit starts. Default 100. */
  readonly probeIntervalMs?: number;
  /** Child output to warpdrive's stderr (written by the worker). Default true. */
  readonly logToStderr?: boolean;
  /** Child output also as `log` events to subscribers. Default false. */
  readonly forwardLogs?: boolean;
  /** Log lifecycle events (started, ready, exited, ...) through src/log.ts. Default true. */
  readonly logEvents?: boolean;
  readonly maxWorkerRestarts?: number;
  readonly workerRestartWindowMs?: number;
}

export type UnitStateName = 'pending' | 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped' | 'failed';

/** One unit as seen from the main thread: the interface a metrics endpoint reads. */
export interface UnitStatus {
  readonly unit: string;
  readonly upstream: string;
  readonly instanceIds: readonly string[];
  readonly state: UnitStateName;
  readonly pid: number | undefined;
  /** Respawns after the first start (crashes, graceful restarts, worker restarts). */
  readonly restarts: number;
  /** Percent of one core, summed over the process group, at the last sample. */
  readonly cpu: number;
  readonly rssBytes: number;
  readonly lastExit: { readonly code: number | null; readonly signal: string | null } | undefined;
  readonly failure: string | undefined;
}

type MutableStatus = { -readonly [K in keyof UnitStatus]: UnitStatus[K] } & { started: number };

export type SupervisorListener = (event: SupervisorEvent) => void;

const workerUrl = new URL('./worker.js', import.meta.url);

/** What a reload changed among the supervised processes (unit names). */
export interface SupervisorChanges {
  readonly started: readonly string[];
  readonly stopped: readonly string[];
  readonly restarted: readonly string[];
}

export class SupervisorClient {
  /** Units supervised now, in start order (a reload replaces them). */
  units: readonly UnitSpec[];
  /** Units of the plan left out by --only/--except: their instances are not ours to gate. */
  excluded: readonly UnitSpec[];
  /** What the selection did beyond the literal names. */
  notes: readonly string[];
  readonly #selection: Selection;

  readonly #options: WorkerOptions;
  readonly #listeners = new Set<SupervisorListener>();
  readonly #status = new Map<string, MutableStatus>();
  readonly #log: Logger | undefined;
  readonly #maxWorkerRestarts: number;
  readonly #workerRestartWindowMs: number;
  #worker: Worker | undefined;
  #workerDeaths: number[] = [];
  #stopping: Promise<void> | undefined;
  #lastWorkerError: WireError | undefined;
  #settledWaiters: Array<() => void> = [];

  private constructor(units: readonly UnitSpec[], excluded: readonly UnitSpec[], notes: readonly string[], options: SupervisorStartOptions) {
    this.units = units;
    this.excluded = excluded;
    this.notes = notes;
    this.#selection = { only: options.only, except: options.except };
    this.#options = {
      restart: { ...defaultRestartPolicy, ...options.restart },
      statsIntervalMs: options.statsIntervalMs ?? 5_000,
      probeIntervalMs: options.probeIntervalMs ?? 100,
      logToStderr: options.logToStderr ?? true,
      forwardLogs: options.forwardLogs ?? false,
      lastLinesKept: 20,
    };
    this.#log = options.logEvents === false ? undefined : createLogger('supervisor');
    this.#maxWorkerRestarts = options.maxWorkerRestarts ?? 3;
    this.#workerRestartWindowMs = options.workerRestartWindowMs ?? 60_000;
    for (const unit of units) this.#track(unit);
  }

  #track(unit: UnitSpec): void {
      this.#status.set(unit.name, {
        unit: unit.name,
        upstream: unit.upstream,
        instanceIds: unit.instances.map((i) => i.id),
        state: 'pending',
        pid: undefined,
        restarts: 0,
        cpu: 0,
        rssBytes: 0,
        lastExit: undefined,
        failure: undefined,
        started: 0,
      });
  }

  /**
   * Starts supervising the plan's processes (or the `only`/`except` subset) in
   * a worker thread. Throws SupervisorSelectionError at once for unknown names.
   * With nothing to supervise, no worker is started and `stop()` resolves at once.
   */
  static start(plan: RuntimePlan, options: SupervisorStartOptions = {}): SupervisorClient {
    const { units, excluded, notes } = selectUnits(unitsOfPlan(plan), options);
    const client = new SupervisorClient(units, excluded, notes, options);
    for (const note of notes) client.#log?.info(note);
    if (units.length > 0) client.#spawnWorker([]);
    return client;
  }

  /** Subscribes to every event; returns the unsubscribe function. */
  on(listener: SupervisorListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A snapshot of every supervised unit. */
  states(): UnitStatus[] {
    return [...this.#status.values()].map(({ started: _started, ...status }) => ({ ...status }));
  }

  /** Resolves once every unit is ready or failed (or stopped). */
  whenSettled(): Promise<void> {
    if (this.#allSettled()) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /**
   * A reload: supervise the processes of `plan` from now on (same --only/--except).
   * Units no longer in the plan are stopped, new ones started, and those whose
   * command, args, env or cwd changed are restarted (rolling within an upstream).
   * Throws SupervisorSelectionError when --only/--except no longer fit the plan.
   */
  update(plan: RuntimePlan, options: { readonly keepRemoved?: boolean } = {}): SupervisorChanges {
    const selected = selectUnits(unitsOfPlan(plan), this.#selection);
    const before = new Map(this.units.map((u) => [u.name, u]));
    const names = new Set(selected.units.map((u) => u.name));
    const removed = this.units.filter((u) => !names.has(u.name));
    const started = selected.units.filter((u) => !before.has(u.name)).map((u) => u.name);
    const stopped = removed.map((u) => u.name);
    const restarted = selected.units.filter((u) => before.has(u.name) && unitRunsDifferently(before.get(u.name)!, u)).map((u) => u.name);
    // keepRemoved: the units a reload removed keep running for now (requests of the previous
    // generation may still need them); a later update without it stops them.
    const units = options.keepRemoved ? [...selected.units, ...removed] : selected.units;
    this.units = units;
    this.excluded = selected.excluded;
    this.notes = selected.notes;
    if (!options.keepRemoved) for (const name of stopped) this.#status.delete(name);
    for (const unit of units) if (!this.#status.has(unit.name)) this.#track(unit);
    if (this.#worker === undefined && !this.#stopping && units.length > 0) this.#spawnWorker([]);
    else this.#post({ type: 'update', units });
    return { started, stopped, restarted };
  }

  /** Gracefully restarts one unit (not counted as a crash). */
  restart(unit: string): void {
    this.#post({ type: 'restart', unit });
  }

  /** Stops every unit, dependents first, and ends the worker. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Fault injection for tests: makes the worker thread throw an uncaught error. */
  crashWorkerForTest(message = 'injected worker crash'): void {
    this.#post({ type: 'crash', message });
  }

  async #stop(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // After `stopped` every process is down; the worker then only flushes queued
    // child output. A stalled stderr must not hold shutdown hostage: give the
    // flush a moment, then end the thread.
    const onStopped = (event: SupervisorEvent): void => {
      if (event.type !== 'stopped') return;
      const flushTimer = setTimeout(() => void worker.terminate(), 2_000);
      void exited.then(() => clearTimeout(flushTimer));
    };
    worker.on('message', onStopped);
    worker.postMessage({ type: 'stop' } satisfies SupervisorCommand);
    // The worker exits on its own after `stopped`; a worker wedged for longer than
    // every stop timeout together is terminated (its guards still clean up).
    const budgetMs = this.units.reduce((sum, u) => sum + u.stopTimeoutMs, 0) + 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), budgetMs)));
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#log?.warn(`supervisor worker did not finish stopping within ${budgetMs} ms; terminating it`);
      await worker.terminate();
    }
    // Whatever way the worker ended, make sure nothing of the fleet survives it.
    const pids = [...this.#status.values()].map((s) => s.pid).filter((p): p is number => p !== undefined);
    if (pids.length > 0) await waitGroupsGone(pids, Math.max(...this.units.map((u) => u.stopTimeoutMs)) + 5_000);
    for (const status of this.#status.values()) {
      if (status.state !== 'failed') status.state = 'stopped';
      status.pid = undefined;
    }
    this.#resolveSettled();
  }

  #post(command: SupervisorCommand): void {
    this.#worker?.postMessage(command);
  }

  #spawnWorker(awaitGoneGroups: readonly number[]): void {
    const worker = new Worker(workerUrl);
    this.#worker = worker;
    worker.on('message', (event: SupervisorEvent) => this.#onEvent(event));
    worker.on('error', (error) => {
      this.#lastWorkerError = { code: 'WD_ERR_SUPERVISOR_WORKER', message: error.message };
    });
    worker.once('exit', (code) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      if (this.#stopping) return;
      this.#onWorkerLost(this.#lastWorkerError ?? { code: 'WD_ERR_SUPERVISOR_WORKER', message: `worker exited with code ${code}` });
    });
    worker.postMessage({ type: 'start', units: this.units, options: this.#options, awaitGoneGroups } satisfies SupervisorCommand);
  }

  #onWorkerLost(error: WireError): void {
    this.#lastWorkerError = undefined;
    const now = Date.now();
    this.#workerDeaths = this.#workerDeaths.filter((t) => now - t <= this.#workerRestartWindowMs);
    this.#workerDeaths.push(now);
    const willRestart = this.#workerDeaths.length <= this.#maxWorkerRestarts;
    const orphanedGroups = [...this.#status.values()].map((s) => s.pid).filter((p): p is number => p !== undefined);
    this.#emit({ type: 'workerLost', error, willRestart });
    for (const status of this.#status.values()) {
      status.pid = undefined;
      if (status.state !== 'failed') status.state = willRestart ? 'pending' : 'failed';
      if (!willRestart && status.failure === undefined) status.failure = `supervisor worker died: ${error.message}`;
    }
    if (!willRestart) {
      for (const status of this.#status.values()) {
        this.#emit({ type: 'failed', unit: status.unit, reason: `supervisor worker died ${this.#workerDeaths.length} times within ${this.#workerRestartWindowMs} ms: ${error.message}`, lastLines: [] });
      }
      this.#resolveSettled();
      return;
    }
    this.#spawnWorker(orphanedGroups);
    this.#emit({ type: 'workerRestarted', attempt: this.#workerDeaths.length });
  }

  #onEvent(event: SupervisorEvent): void {
    const status = 'unit' in event ? this.#status.get(event.unit) : undefined;
    switch (event.type) {
      case 'started':
        if (status) {
          status.started += 1;
          status.restarts = status.started - 1;
          status.state = 'starting';
          status.pid = event.pid;
          status.failure = undefined;
        }
        this.#log?.info(`${event.unit}: started, pid ${event.pid}`);
        break;
      case 'ready':
        if (status) status.state = 'ready';
        this.#log?.info(`${event.unit}: ready (${event.instanceIds.join(', ')})`);
        break;
      case 'stopping':
        if (status) status.state = 'stopping';
        this.#log?.info(`${event.unit}: stopping (${event.reason})`);
        break;
      case 'exited':
        if (status) {
          status.pid = undefined;
          status.lastExit = { code: event.code, signal: event.signal };
          status.state = status.state === 'stopping' ? 'stopped' : 'backoff';
        }
        this.#log?.[status?.state === 'stopped' ? 'info' : 'warn'](`${event.unit}: pid ${event.pid} exited with ${event.signal ? `signal ${event.signal}` : `code ${event.code}`}`);
        break;
      case 'restarting':
        if (status && event.delayMs > 0) status.state = 'backoff';
        this.#log?.warn(`${event.unit}: restarting in ${event.delayMs} ms (attempt ${event.attempt}): ${event.reason}`);
        break;
      case 'failed':
        if (status) {
          status.state = 'failed';
          status.failure = event.reason;
        }
        this.#log?.error(`${event.unit}: failed: ${event.reason}${event.lastLines.length > 0 ? `; last output:\n  ${event.lastLines.join('\n  ')}` : ''}`);
        break;
      case 'stats':
        if (status) {
          status.cpu = event.cpu;
          status.rssBytes = event.rssBytes;
        }
        break;
      case 'error':
        this.#log?.error(`${event.error.code}: ${event.error.message}`);
        break;
      case 'log':
      case 'stopped':
      case 'workerLost':
      case 'workerRestarted':
        break;
    }
    this.#emit(event);
    if (this.#settledWaiters.length > 0 && this.#allSettled()) this.#resolveSettled();
  }

  #emit(event: SupervisorEvent): void {
    if (event.type === 'workerLost') {
      this.#log?.error(`supervisor worker died (${event.error.message}); ${event.willRestart ? 'its processes are torn down by their guards; restarting the worker and the fleet' : 'giving up: the fleet stays down'}`);
    }
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log?.error(`supervisor event listener threw: ${(error as Error).message}`);
      }
    }
  }

  #allSettled(): boolean {
    for (const status of this.#status.values()) {
      if (status.state !== 'ready' && status.state !== 'failed' && status.state !== 'stopped') return false;
    }
    return true;
  }

  #resolveSettled(): void {
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

