/**
 * One supervised unit inside the worker: spawn behind the guard, probe until
 * ready, restart on crash with backoff, stop gracefully (SIGTERM to the group,
 * SIGKILL after the stop timeout).
 *
 * States:
 *
 *   pending ─start()→ starting ─probes pass→ ready
 *      starting/ready ─exits→ backoff ─delay→ starting        (crash)
 *      starting/ready ─exits too often→ failed                (crash loop)
 *      starting ─start timeout→ stopping → failed
 *      any ─stop()→ stopping → stopped
 *
 * @module
 */

import type { ChildProcess } from 'node:child_process';
import { lstatSync, statSync, unlinkSync } from 'node:fs';
import { spawnGuarded, commandNotFoundCode, commandNotExecutableCode } from './guard.js';
import { LineSplitter } from './line-splitter.js';
import { connectOutcome, probeInstance } from './readiness.js';
import { CrashTracker } from './restart-policy.js';
import { signalGroup, waitGroupsGone } from './process-group.js';
import type { SupervisorEvent, UnitSpec, WorkerOptions, StreamName } from './protocol.js';

export type UnitState = 'pending' | 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped' | 'failed';

/** What a unit needs from the worker around it. */
export interface UnitHost {
  emit(event: SupervisorEvent): void;
  /** A complete output line of the unit's process. */
  outputLine(unit: string, stream: StreamName, line: string): void;
}

/** How long to wait, after the leader exited, for the rest of its group to vanish before respawning. */
const leftoverGraceMs = 2_000;

export class SupervisedUnit {
  /** Replaced by `adopt` when a reload changes the unit's definition. */
  spec: UnitSpec;
  readonly #host: UnitHost;
  readonly #options: WorkerOptions;
  readonly #crashes: CrashTracker;
  #state: UnitState = 'pending';
  #child: ChildProcess | undefined;
  #pid: number | undefined;
  #restarts = 0;
  #lastLines: string[] = [];
  #backoffTimer: NodeJS.Timeout | undefined;
  /** Bumped on every spawn, so probes and timers of an older process stop mattering. */
  #generation = 0;
  /** Resolves when the current process has exited (and its group is gone). */
  #exited: Promise<void> = Promise.resolve();
  /** True while the address checks before a spawn run (the state is still pending/backoff). */
  #launching = false;
  /** Set while a graceful stop or restart is in progress: the exit is expected, not a crash. */
  #expectingExit: 'stop' | 'restart' | 'fail' | undefined;
  /** Called once when the unit first becomes ready, and when it fails: the fleet gates dependents on it. */
  onSettled: ((unit: SupervisedUnit, outcome: 'ready' | 'failed') => void) | undefined;

  constructor(spec: UnitSpec, host: UnitHost, options: WorkerOptions) {
    this.spec = spec;
    this.#host = host;
    this.#options = options;
    this.#crashes = new CrashTracker(options.restart);
  }

  get name(): string {
    return this.spec.name;
  }

  /** A reload's new definition of this unit: used from the next spawn on. */
  adopt(spec: UnitSpec): void {
    this.spec = spec;
  }

  /** Resolves at the next time the unit becomes ready, fails or is stopped. */
  whenSettled(): Promise<'ready' | 'failed' | 'stopped'> {
    return new Promise((resolve) => this.#settleWaiters.push(resolve));
  }

  #settleWaiters: Array<(outcome: 'ready' | 'failed' | 'stopped') => void> = [];

  #settle(outcome: 'ready' | 'failed' | 'stopped'): void {
    const waiters = this.#settleWaiters;
    this.#settleWaiters = [];
    for (const resolve of waiters) resolve(outcome);
  }
  get state(): UnitState {
    return this.#state;
  }
  /** Pid of the running process, which is also its process group id. */
  get pid(): number | undefined {
    return this.#pid;
  }
  get restarts(): number {
    return this.#restarts;
  }

  start(): void {
    if (this.#state !== 'pending' && this.#state !== 'backoff') return;
    void this.#checkAddressesThenSpawn();
  }

  /** Graceful stop: SIGTERM to the group, SIGKILL after stop_timeout. Resolves when the group is gone. */
  async stop(reason = 'warpdrive is stopping'): Promise<void> {
    clearTimeout(this.#backoffTimer);
    if (this.#state === 'pending' || this.#state === 'backoff') {
      this.#state = 'stopped';
      return;
    }
    if (this.#state === 'starting' || this.#state === 'ready') {
      this.#expectingExit = 'stop';
      this.#terminate(reason);
    } else if (this.#state === 'stopping' && this.#expectingExit !== 'fail') {
      // A crash or a restart is being handled: let it end as a stop instead.
      this.#expectingExit = 'stop';
    }
    await this.#exited;
    if (this.#state !== 'failed') this.#state = 'stopped';
    this.#settle(this.#state === 'failed' ? 'failed' : 'stopped');
  }

  /**
   * Graceful restart. A requested one is not counted as a crash; a memory one
   * (`countAsCrash`) is, so a process that always outgrows max_memory_mb ends
   * up failed instead of restarting forever.
   */
  async restart(reason: string, countAsCrash = false): Promise<void> {
    if (this.#state !== 'ready' && this.#state !== 'starting') return;
    if (countAsCrash) {
      const decision = this.#crashes.recordCrash(Date.now(), Math.random());
      if (decision.action === 'give-up') {
        this.#expectingExit = 'fail';
        this.#terminate(reason);
        await this.#exited;
        this.#fail(`restart loop: ${decision.crashes} restarts within ${decision.windowMs} ms (last: ${reason}); not restarting`);
        return;
      }
    }
    this.#expectingExit = 'restart';
    this.#host.emit({ type: 'restarting', unit: this.name, delayMs: 0, attempt: 0, reason });
    this.#terminate(reason);
    await this.#exited;
  }

  #terminate(reason: string): void {
    const pid = this.#pid;
    if (pid === undefined) return;
    const generation = this.#generation;
    this.#state = 'stopping';
    this.#host.emit({ type: 'stopping', unit: this.name, reason });
    signalGroup(pid, 'SIGTERM');
    const killTimer = setTimeout(() => {
      if (this.#generation === generation && this.#child?.exitCode === null && this.#child.signalCode === null) {
        this.#note(`did not exit within ${this.spec.stopTimeoutMs} ms of SIGTERM; sending SIGKILL to its process group`);
      }
      signalGroup(pid, 'SIGKILL');
    }, this.spec.stopTimeoutMs);
    void this.#exited.then(() => clearTimeout(killTimer));
  }

  /**
   * Readiness means "the address accepts", so an address that already accepts
   * before the process exists would make a stranger look like our process: that
   * is refused. A Unix socket file nobody listens on (left by a process that was
   * killed) is removed, since most servers refuse to bind over it.
   */
  async #checkAddressesThenSpawn(): Promise<void> {
    if (this.#launching) return;
    this.#launching = true;
    try {
      await this.#checkAddressesThenSpawnOnce();
    } finally {
      this.#launching = false;
    }
  }

  async #checkAddressesThenSpawnOnce(): Promise<void> {
    const generation = this.#generation;
    const problems: string[] = [];
    for (const { id, address } of this.spec.instances) {
      const where = address.kind === 'tcp' ? `${address.host}:${address.port}` : address.socketPath;
      if (address.kind === 'unix') {
        const kind = fileKind(address.socketPath);
        if (kind === 'missing') continue;
        if (kind !== 'socket') {
          problems.push(`${id}: ${where} exists and is not a socket; remove it or change the instance's socket path`);
          continue;
        }
      }
      const outcome = await connectOutcome(address, 1_000);
      if (outcome === 'open') {
        problems.push(`${id}: ${where} already accepts connections before the process started (another process holds it); stop that process or change the address`);
      } else if (address.kind === 'unix' && outcome === 'ECONNREFUSED') {
        // Refused means nobody listens; any other answer (EACCES, a timeout) leaves the file alone.
        try {
          unlinkSync(address.socketPath);
          this.#note(`removed stale socket ${address.socketPath} (nothing was listening on it)`);
        } catch {
          // Gone meanwhile, or not ours to remove: the process will say so when it binds.
        }
      }
    }
    // A stop() during the checks wins.
    if (this.#generation !== generation || (this.#state !== 'pending' && this.#state !== 'backoff')) return;
    if (problems.length > 0) {
      this.#fail(problems.join('; '));
      return;
    }
    this.#spawn();
  }

  #spawn(): void {
    const spec = this.spec;
    const generation = ++this.#generation;
    if (spec.cwd !== undefined && !isDirectory(spec.cwd)) {
      this.#fail(`cwd "${spec.cwd}" is not a directory; fix process.cwd`);
      return;
    }
    let child: ChildProcess;
    try {
      child = spawnGuarded({
        command: spec.command,
        args: spec.args,
        env: { ...process.env, ...spec.env },
        cwd: spec.cwd,
        stopTimeoutMs: spec.stopTimeoutMs,
      });
    } catch (error) {
      this.#fail(`could not spawn "${spec.command}": ${(error as Error).message}`);
      return;
    }
    const pid = child.pid;
    if (pid === undefined) {
      // Spawn failed asynchronously-reported (e.g. /bin/sh missing); 'error' follows.
      child.once('error', (error) => this.#fail(`could not spawn "${spec.command}": ${error.message}`));
      return;
    }
    this.#child = child;
    this.#pid = pid;
    this.#state = 'starting';
    if (generation > 1) this.#restarts += 1;
    this.#host.emit({ type: 'started', unit: this.name, pid });

    this.#pipeOutput(child, 'stdout');
    this.#pipeOutput(child, 'stderr');

    let resolveExited!: () => void;
    this.#exited = new Promise((resolve) => (resolveExited = resolve));
    child.once('error', (error) => this.#note(`process error: ${error.message}`));
    child.once('exit', (code, signal) => {
      void this.#onExit(generation, pid, code, signal).finally(resolveExited);
    });
    void this.#probeUntilReady(generation);
  }

  #pipeOutput(child: ChildProcess, stream: StreamName): void {
    const source = stream === 'stdout' ? child.stdout : child.stderr;
    if (!source) return;
    const splitter = new LineSplitter((line) => {
      this.#remember(`${stream}: ${line}`);
      this.#host.outputLine(this.name, stream, line);
    });
    source.on('data', (chunk: Buffer) => splitter.push(chunk));
    source.once('end', () => splitter.end());
    source.once('error', () => splitter.end());
  }

  #remember(line: string): void {
    this.#lastLines.push(line);
    if (this.#lastLines.length > this.#options.lastLinesKept) this.#lastLines.shift();
  }

  /** A line of the supervisor's own about this unit, kept with its output for context. */
  #note(message: string): void {
    this.#remember(`supervisor: ${message}`);
    this.#host.outputLine(this.name, 'stderr', `[supervisor] ${message}`);
  }

  async #probeUntilReady(generation: number): Promise<void> {
    const spec = this.spec;
    const deadline = Date.now() + spec.startTimeoutMs;
    const pending = new Set(spec.instances.map((i) => i.id));
    const probeTimeoutMs = Math.max(100, Math.min(1_000, this.#options.probeIntervalMs * 4));
    while (this.#generation === generation && this.#state === 'starting') {
      await Promise.all(
        spec.instances
          .filter((i) => pending.has(i.id))
          .map(async (i) => {
            if (await probeInstance(i.address, spec.health, probeTimeoutMs)) pending.delete(i.id);
          }),
      );
      if (this.#generation !== generation || this.#state !== 'starting') return;
      if (pending.size === 0) {
        this.#state = 'ready';
        this.#crashes.markReady(Date.now());
        this.#host.emit({ type: 'ready', unit: this.name, instanceIds: spec.instances.map((i) => i.id) });
        this.onSettled?.(this, 'ready');
        this.#settle('ready');
        return;
      }
      if (Date.now() >= deadline) {
        const waitingFor = [...pending].join(', ');
        const how = spec.health ? `health check ${spec.health.path}` : 'a connection';
        this.#expectingExit = 'fail';
        this.#note(`not ready after ${spec.startTimeoutMs} ms (start_timeout_secs): ${waitingFor} never accepted ${how}`);
        const reason = `start timeout: ${waitingFor} not ready after ${spec.startTimeoutMs} ms`;
        this.#terminate(reason);
        await this.#exited;
        this.#fail(reason);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.#options.probeIntervalMs));
    }
  }

  async #onExit(generation: number, pid: number, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const wasReady = this.#state === 'ready';
    // Going down from here on: ends the probe loop of this process at once.
    if (this.#state === 'starting' || this.#state === 'ready') this.#state = 'stopping';
    this.#child = undefined;
    this.#pid = undefined;
    this.#host.emit({ type: 'exited', unit: this.name, pid, code, signal });
    // The leader is gone; whatever is left of its group (the guard's watcher,
    // grandchildren a crashed server left behind) must go too, before any restart
    // finds its port taken.
    signalGroup(pid, 'SIGKILL');
    if (!(await waitGroupsGone([pid], leftoverGraceMs))) this.#note(`process group ${pid} still has members ${leftoverGraceMs} ms after SIGKILL`);
    if (generation !== this.#generation) return;

    const expected = this.#expectingExit;
    this.#expectingExit = undefined;
    if (expected === 'stop') {
      this.#state = 'stopped';
      return;
    }
    if (expected === 'fail') return; // #probeUntilReady reports the failure
    if (expected === 'restart') {
      this.#state = 'backoff';
      void this.#checkAddressesThenSpawn();
      return;
    }

    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (!wasReady && (code === commandNotFoundCode || code === commandNotExecutableCode)) {
      this.#fail(`"${this.spec.command}" could not be run (exit ${code}: ${code === commandNotFoundCode ? 'command not found' : 'not executable'}); check process.command and PATH`);
      return;
    }
    const decision = this.#crashes.recordCrash(Date.now(), Math.random());
    if (decision.action === 'give-up') {
      this.#fail(`crash loop: exited ${decision.crashes} times within ${decision.windowMs} ms (last: ${how}); not restarting`);
      return;
    }
    this.#state = 'backoff';
    const reason = `exited with ${how}${wasReady ? '' : ' before it was ready'}`;
    this.#host.emit({ type: 'restarting', unit: this.name, delayMs: decision.delayMs, attempt: decision.attempt, reason });
    this.#backoffTimer = setTimeout(() => this.start(), decision.delayMs);
  }

  #fail(reason: string): void {
    clearTimeout(this.#backoffTimer);
    this.#state = 'failed';
    this.#host.emit({ type: 'failed', unit: this.name, reason, lastLines: [...this.#lastLines] });
    this.onSettled?.(this, 'failed');
    this.#settle('failed');
  }
}

function fileKind(path: string): 'missing' | 'socket' | 'other' {
  try {
    return lstatSync(path).isSocket() ? 'socket' : 'other';
  } catch {
    return 'missing';
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
