/**
 * All units of one start, inside the worker: dependencies gate starts, stops go
 * dependents first, and one stats pass samples every unit.
 *
 * @module
 */

import pidusage from 'pidusage';
import { SupervisedUnit, type UnitHost } from './process.js';
import { groupMembers, waitGroupsGone } from './process-group.js';
import type { SupervisorEvent, UnitSpec, WorkerOptions } from './protocol.js';
import { unitRunsDifferently } from './units.js';

export class Fleet {
  #units: SupervisedUnit[];
  readonly #byName: Map<string, SupervisedUnit>;
  readonly #host: UnitHost;
  readonly #options: WorkerOptions;
  readonly #emit: (event: SupervisorEvent) => void;
  /** Units that became ready at least once, or failed: what dependents wait on. */
  readonly #settled = new Map<string, 'ready' | 'failed'>();
  #stopping = false;
  #statsTimer: NodeJS.Timeout | undefined;
  #statsRunning = false;

  constructor(specs: readonly UnitSpec[], options: WorkerOptions, emit: (event: SupervisorEvent) => void, outputLine: UnitHost['outputLine']) {
    this.#options = options;
    this.#emit = emit;
    const host: UnitHost = { emit, outputLine };
    this.#host = host;
    this.#units = specs.map((spec) => new SupervisedUnit(spec, host, options));
    this.#byName = new Map(this.#units.map((u) => [u.name, u]));
    for (const unit of this.#units) unit.onSettled = (u, outcome) => this.#onSettled(u, outcome);
  }

  /**
   * Starts every unit whose dependencies are ready; the rest start as their
   * dependencies become ready. Waits first for groups a dead worker left behind.
   */
  async start(awaitGoneGroups: readonly number[]): Promise<void> {
    if (awaitGoneGroups.length > 0) {
      const longestStopMs = Math.max(0, ...this.#units.map((u) => u.spec.stopTimeoutMs));
      await waitGroupsGone(awaitGoneGroups, longestStopMs + 5_000);
    }
    if (this.#stopping) return;
    this.#startEligible();
    if (this.#options.statsIntervalMs > 0) {
      this.#statsTimer = setInterval(() => void this.#sampleStats(), this.#options.statsIntervalMs);
    }
  }

  /** Stops all units: each one only after every unit depending on it is down. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#statsTimer);
    await this.#stopUnits(this.#units);
  }

  /** Stops `units` (a subset of the fleet), each one only after those of them depending on it are down. */
  async #stopUnits(units: readonly SupervisedUnit[], reason?: string): Promise<void> {
    const done = new Map<string, Promise<void>>();
    // Reverse start order visits dependents before their dependencies.
    for (const unit of [...units].reverse()) {
      const dependents = units.filter((u) => u.spec.dependsOn.includes(unit.name)).map((u) => done.get(u.name)!);
      done.set(
        unit.name,
        Promise.all(dependents).then(() => unit.stop(reason)),
      );
    }
    await Promise.all(done.values());
  }

  /**
   * A reload's units (in start order): units no longer listed are stopped,
   * dependents first; new ones start once their dependencies are ready; units whose
   * command, args, env or cwd changed are restarted with the new definition, one at a
   * time per upstream, each waiting for the previous one to be ready again, so an
   * upstream with several instance processes never has none ready (a rolling
   * restart). Other changes (timeouts, health path...) apply from the next start.
   */
  async update(specs: readonly UnitSpec[]): Promise<void> {
    if (this.#stopping) return;
    const next = new Map(specs.map((spec) => [spec.name, spec]));
    const removed = this.#units.filter((u) => !next.has(u.name));
    await this.#stopUnits(removed, 'removed from the configuration');
    const changed: SupervisedUnit[] = [];
    const units: SupervisedUnit[] = [];
    for (const spec of specs) {
      const existing = this.#byName.get(spec.name);
      if (existing === undefined || removed.includes(existing)) {
        const unit = new SupervisedUnit(spec, this.#host, this.#options);
        unit.onSettled = (u, outcome) => this.#onSettled(u, outcome);
        this.#byName.set(spec.name, unit);
        units.push(unit);
        continue;
      }
      if (unitRunsDifferently(existing.spec, spec)) changed.push(existing);
      existing.adopt(spec);
      units.push(existing);
    }
    for (const unit of removed) {
      this.#byName.delete(unit.name);
      this.#settled.delete(unit.name);
    }
    this.#units = units;
    this.#startEligible();
    // Rolling restart: upstreams in parallel, the units of one upstream one after another.
    const byUpstream = new Map<string, SupervisedUnit[]>();
    for (const unit of changed) byUpstream.set(unit.spec.upstream, [...(byUpstream.get(unit.spec.upstream) ?? []), unit]);
    await Promise.all(
      [...byUpstream.values()].map(async (group) => {
        for (const unit of group) {
          if (this.#stopping) return;
          if (unit.state !== 'ready' && unit.state !== 'starting') continue; // not running: the new spec applies at its next start
          const settled = unit.whenSettled();
          await unit.restart('configuration changed');
          await settled;
        }
      }),
    );
  }

  async restartUnit(name: string): Promise<void> {
    const unit = this.#byName.get(name);
    if (!unit) {
      this.#emit({ type: 'error', error: { code: 'WD_ERR_SUPERVISOR_UNKNOWN_UNIT', message: `restart: no supervised unit "${name}"` } });
      return;
    }
    await unit.restart('restart requested');
  }

  #onSettled(unit: SupervisedUnit, outcome: 'ready' | 'failed'): void {
    if (this.#settled.has(unit.name)) return; // only the first start gates dependents
    this.#settled.set(unit.name, outcome);
    if (outcome === 'failed') this.#failDependents(unit.name);
    this.#startEligible();
  }

  #failDependents(failed: string): void {
    for (const unit of this.#units) {
      if (unit.state !== 'pending' || !unit.spec.dependsOn.includes(failed) || this.#settled.has(unit.name)) continue;
      this.#settled.set(unit.name, 'failed');
      this.#emit({ type: 'failed', unit: unit.name, reason: `not started: its dependency ${failed} failed`, lastLines: [] });
      this.#failDependents(unit.name);
    }
  }

  #startEligible(): void {
    if (this.#stopping) return;
    for (const unit of this.#units) {
      if (unit.state !== 'pending' || this.#settled.has(unit.name)) continue;
      if (unit.spec.dependsOn.every((d) => this.#settled.get(d) === 'ready')) unit.start();
    }
  }

  /**
   * One pass: the members of every unit's process group (one /proc scan), then
   * pidusage over all of them, summed per group. max_memory_mb is checked here.
   */
  async #sampleStats(): Promise<void> {
    if (this.#statsRunning) return; // a slow pass must not pile up behind itself
    this.#statsRunning = true;
    try {
      const running = this.#units.filter((u) => u.pid !== undefined && (u.state === 'ready' || u.state === 'starting'));
      if (running.length === 0) return;
      const members = groupMembers(new Set(running.map((u) => u.pid!)));
      const pids = [...new Set(running.flatMap((u) => members.get(u.pid!) ?? [u.pid!]))];
      let usage: Record<string, { cpu: number; memory: number } | undefined>;
      try {
        usage = await pidusage(pids);
      } catch {
        // A member exited between the scan and the sample: sample leaders alone this time.
        usage = await pidusage(running.map((u) => u.pid!)).catch(() => ({}));
      }
      for (const unit of running) {
        const pid = unit.pid;
        if (pid === undefined) continue;
        let cpu = 0;
        let rssBytes = 0;
        let processes = 0;
        for (const member of members.get(pid) ?? [pid]) {
          const sample = usage[member];
          if (!sample) continue;
          cpu += sample.cpu;
          rssBytes += sample.memory;
          processes += 1;
        }
        this.#emit({ type: 'stats', unit: unit.name, pid, cpu, rssBytes, processes });
        const limitMb = unit.spec.maxMemoryMb;
        if (limitMb !== undefined && unit.state === 'ready' && rssBytes > limitMb * 1024 * 1024) {
          void unit.restart(`memory ${Math.round(rssBytes / 1024 / 1024)} MB over max_memory_mb = ${limitMb}`, true);
        }
      }
    } catch (error) {
      this.#emit({ type: 'error', error: { code: 'WD_ERR_SUPERVISOR_STATS', message: `stats sampling failed: ${(error as Error).message}` } });
    } finally {
      this.#statsRunning = false;
    }
  }
}

