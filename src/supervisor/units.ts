/**
 * From a RuntimePlan to the list of units the worker supervises, and the
 * `--only` / `--except` selection. Pure: no processes, no I/O.
 *
 * A unit is one process: an upstream-level process (unit name = upstream name,
 * serving every instance of the upstream that has no process of its own) or an
 * instance-level process (unit name = instance id `name#i`, serving that
 * instance alone).
 *
 * @module
 */

import type { RuntimePlan, UpstreamSpec, ProcessSpec } from '../config/types.js';
import type { UnitSpec, UnitInstance } from './protocol.js';

/** A bad `--only` / `--except` name or an inconsistent plan; `code` is stable. */
export class SupervisorSelectionError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SupervisorSelectionError';
    this.code = code;
  }
}

export interface Selection {
  readonly only?: readonly string[] | undefined;
  readonly except?: readonly string[] | undefined;
}

export interface SelectedUnits {
  /** Units to supervise, in start order (dependencies first). */
  readonly units: readonly UnitSpec[];
  /** Units of the plan left out by the selection (their instances are treated as external). */
  readonly excluded: readonly UnitSpec[];
  /** What the selection did beyond the literal names (dependencies added, dependencies dropped). */
  readonly notes: readonly string[];
}

function unitFrom(name: string, upstream: UpstreamSpec, process: ProcessSpec, instances: readonly UnitInstance[]): Omit<UnitSpec, 'dependsOn'> {
  return {
    name,
    upstream: upstream.name,
    command: process.command,
    args: [...process.args],
    env: { ...process.env },
    cwd: process.cwd,
    stopTimeoutMs: process.stopTimeoutMs,
    startTimeoutMs: process.startTimeoutMs,
    maxMemoryMb: process.maxMemoryMb,
    instances,
    health: upstream.health
      ? {
          path: upstream.health.path,
          timeoutMs: upstream.health.timeoutMs,
          expectStatusMin: upstream.health.expectStatusMin,
          expectStatusMax: upstream.health.expectStatusMax,
        }
      : undefined,
  };
}

/** The units a process name in `depends_on` stands for: the upstream's process, or all its instance processes. */
function unitsOfUpstream(upstream: UpstreamSpec): string[] {
  if (upstream.process) return [upstream.name];
  return upstream.instances.filter((i) => i.process !== undefined).map((i) => i.id);
}

/**
 * Every supervised unit of the plan, in `plan.processOrder`. Throws when the
 * order names something without a process or lists a unit before one of its
 * dependencies (config guarantees neither happens; hand-made plans might).
 */
export function unitsOfPlan(plan: RuntimePlan): UnitSpec[] {
  const byName = new Map<string, { upstream: UpstreamSpec; process: ProcessSpec; instances: UnitInstance[] }>();
  for (const upstream of plan.upstreams.values()) {
    const sharedInstances: UnitInstance[] = [];
    for (const instance of upstream.instances) {
      if (instance.process) {
        byName.set(instance.id, { upstream, process: instance.process, instances: [{ id: instance.id, address: instance.address }] });
      } else {
        sharedInstances.push({ id: instance.id, address: instance.address });
      }
    }
    if (upstream.process) byName.set(upstream.name, { upstream, process: upstream.process, instances: sharedInstances });
  }

  const units: UnitSpec[] = [];
  const seen = new Set<string>();
  for (const name of plan.processOrder) {
    const entry = byName.get(name);
    if (!entry) {
      throw new SupervisorSelectionError('WD_ERR_SUPERVISOR_PLAN', `process order names "${name}", which has no process; fix the plan (this is a bug in config compilation)`);
    }
    const dependsOn: string[] = [];
    for (const dependency of entry.process.dependsOn) {
      const upstream = plan.upstreams.get(dependency);
      const dependencyUnits = upstream ? unitsOfUpstream(upstream) : [];
      if (dependencyUnits.length === 0) {
        throw new SupervisorSelectionError('WD_ERR_SUPERVISOR_PLAN', `${name}: depends_on names "${dependency}", which is not an upstream with a process`);
      }
      for (const unit of dependencyUnits) {
        if (!seen.has(unit)) {
          throw new SupervisorSelectionError('WD_ERR_SUPERVISOR_PLAN', `process order lists "${name}" before its dependency "${unit}"`);
        }
        dependsOn.push(unit);
      }
    }
    seen.add(name);
    units.push({ ...unitFrom(name, entry.upstream, entry.process, entry.instances), dependsOn });
  }
  if (seen.size !== byName.size) {
    const missing = [...byName.keys()].filter((n) => !seen.has(n));
    throw new SupervisorSelectionError('WD_ERR_SUPERVISOR_PLAN', `process order leaves out ${missing.join(', ')}; every process must appear in plan.processOrder`);
  }
  return units;
}

/** Edit distance counting a swap of neighbours as one edit (typos like "cabel"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** Resolves one `--only`/`--except` name: an upstream name (all its units) or a unit name. */
function resolveName(name: string, units: readonly UnitSpec[], flag: string): string[] {
  const exact = units.filter((u) => u.name === name || u.upstream === name).map((u) => u.name);
  if (exact.length > 0) return exact;
  const known = [...new Set(units.flatMap((u) => (u.name === u.upstream ? [u.name] : [u.upstream, u.name])))];
  // Short names tolerate one edit, longer ones two; only the closest candidates are offered.
  const tolerance = name.length <= 3 ? 1 : 2;
  const distances = known.map((k) => [k, editDistance(k, name)] as const).filter(([, d]) => d <= tolerance);
  const best = Math.min(...distances.map(([, d]) => d));
  const close = distances.filter(([, d]) => d === best).map(([k]) => k);
  const hint = close.length > 0 ? ` Did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : '';
  const list = known.length > 0 ? ` Supervised processes: ${known.join(', ')}.` : ' This config supervises no process (no upstream has process.command).';
  throw new SupervisorSelectionError('WD_ERR_SUPERVISOR_SELECTION', `${flag} "${name}" is not a supervised upstream or instance.${hint}${list}`);
}

/**
 * Applies `--only` then `--except`:
 *
 * - `--only A,B` starts A and B and everything they depend on (transitively),
 *   because a dependent would otherwise wait forever for its dependency.
 * - `--except C` leaves C out (you run it yourself, e.g. under a debugger); units
 *   that depend on C start without waiting for it. `--except` wins over the
 *   dependencies that `--only` pulled in.
 *
 * Names are upstream names (all of the upstream's processes) or instance ids.
 */
export function selectUnits(all: readonly UnitSpec[], selection: Selection): SelectedUnits {
  const notes: string[] = [];
  const byName = new Map(all.map((u) => [u.name, u]));
  let chosen = new Set(all.map((u) => u.name));

  if (selection.only && selection.only.length > 0) {
    const wanted = new Set(selection.only.flatMap((n) => resolveName(n, all, '--only')));
    const closure = new Set<string>();
    const visit = (name: string, requiredBy: string | undefined): void => {
      if (closure.has(name)) return;
      closure.add(name);
      if (requiredBy !== undefined && !wanted.has(name)) notes.push(`starting ${name} too: ${requiredBy} depends on it`);
      for (const dependency of byName.get(name)!.dependsOn) visit(dependency, name);
    };
    for (const name of wanted) visit(name, undefined);
    chosen = closure;
  }

  if (selection.except && selection.except.length > 0) {
    for (const name of selection.except.flatMap((n) => resolveName(n, all, '--except'))) chosen.delete(name);
  }

  const units: UnitSpec[] = [];
  const excluded: UnitSpec[] = [];
  for (const unit of all) {
    if (!chosen.has(unit.name)) {
      excluded.push(unit);
      continue;
    }
    const kept = unit.dependsOn.filter((d) => chosen.has(d));
    for (const dropped of unit.dependsOn.filter((d) => !chosen.has(d))) {
      notes.push(`${unit.name} starts without waiting for ${dropped}, which is excluded (run it yourself)`);
    }
    units.push(kept.length === unit.dependsOn.length ? unit : { ...unit, dependsOn: kept });
  }
  return { units, excluded, notes };
}

/**
 * Names from `--only`/`--except` as the CLI parser hands them over: one string
 * (`"a,b"`), or several when the flag is repeated. Commas and spaces separate.
 */
export function parseNameList(value: string | readonly string[] | undefined | null | boolean): string[] | undefined {
  if (value === undefined || value === null || typeof value === 'boolean') return undefined;
  const parts = (typeof value === 'string' ? [value] : value).flatMap((v) => String(v).split(/[,\s]+/));
  const names = parts.filter((p) => p.length > 0);
  return names.length > 0 ? names : undefined;
}

/**
 * Whether a unit's process must be restarted to follow its new definition: what it
 * runs changed (command, args, env, cwd). Other changes apply from its next start.
 */
export function unitRunsDifferently(a: UnitSpec, b: UnitSpec): boolean {
  return a.command !== b.command || a.cwd !== b.cwd || JSON.stringify(a.args) !== JSON.stringify(b.args) || JSON.stringify(a.env) !== JSON.stringify(b.env);
}
