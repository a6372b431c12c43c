/**
 * Start order of supervised processes: a topological sort of `depends_on`,
 * dependencies first, ties broken by config order so the result is stable.
 *
 * A process unit is an upstream name (upstream-level `process`) or an instance
 * id `name#i` (instance-level `process`). `depends_on` names upstreams; depending
 * on an upstream means depending on every process unit that serves it.
 *
 * @module
 */

import type { ConfigIssue } from './errors.js';
import { didYouMean } from './errors.js';
import type { UpstreamConfig } from './schema.js';

interface Unit {
  readonly id: string;
  readonly upstream: string;
  /** Key path of this unit's `depends_on`, for messages. */
  readonly path: string;
  readonly dependsOn: readonly string[];
}

function unitsOf(upstreams: ReadonlyMap<string, UpstreamConfig>): Unit[] {
  const units: Unit[] = [];
  for (const [name, upstream] of upstreams) {
    if (upstream.process !== undefined) {
      units.push({ id: name, upstream: name, path: `upstreams.${name}.process.depends_on`, dependsOn: upstream.process.depends_on });
    }
    upstream.instances?.forEach((instance, i) => {
      if (instance.process !== undefined) {
        units.push({
          id: `${name}#${i}`,
          upstream: name,
          path: `upstreams.${name}.instances[${i}].process.depends_on`,
          dependsOn: instance.process.depends_on,
        });
      }
    });
  }
  return units;
}

/**
 * Orders the process units. Issues: unknown upstream in `depends_on`, an
 * upstream without a process, a cycle (named as `a -> b -> a`).
 */
export function planProcessOrder(upstreams: ReadonlyMap<string, UpstreamConfig>): { order: string[]; issues: ConfigIssue[] } {
  const units = unitsOf(upstreams);
  const issues: ConfigIssue[] = [];
  const unitsByUpstream = new Map<string, Unit[]>();
  for (const unit of units) {
    const list = unitsByUpstream.get(unit.upstream) ?? [];
    list.push(unit);
    unitsByUpstream.set(unit.upstream, list);
  }

  // Edges: unit -> the units it needs started first.
  const needs = new Map<string, Unit[]>();
  for (const unit of units) {
    const required: Unit[] = [];
    for (const dependency of unit.dependsOn) {
      if (!upstreams.has(dependency)) {
        issues.push({
          path: unit.path,
          message: `unknown upstream "${dependency}"${didYouMean(dependency, upstreams.keys())}; fix: name one of: ${[...upstreams.keys()].join(', ')}`,
        });
        continue;
      }
      const providers = unitsByUpstream.get(dependency);
      if (providers === undefined) {
        issues.push({
          path: unit.path,
          message: `upstream "${dependency}" has no process to wait for; fix: remove it from depends_on or give [upstreams.${dependency}] a process.command`,
        });
        continue;
      }
      required.push(...providers.filter((provider) => provider !== unit));
      if (dependency === unit.upstream && providers.includes(unit)) {
        issues.push({ path: unit.path, message: `process dependency cycle: ${unit.id} -> ${unit.id}; fix: a process cannot depend on itself` });
      }
    }
    needs.set(unit.id, required);
  }
  if (issues.length > 0) return { order: [], issues };

  // Depth-first, visiting units in config order: each unit is emitted after its
  // dependencies, so the order is stable and a back edge reveals a cycle.
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (unit: Unit): boolean => {
    const seen = state.get(unit.id);
    if (seen === 'done') return true;
    if (seen === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(unit.id)), unit.id];
      issues.push({
        path: units.find((u) => u.id === cycle[0])!.path,
        message: `process dependency cycle: ${cycle.join(' -> ')}; fix: remove one of these depends_on entries`,
      });
      return false;
    }
    state.set(unit.id, 'visiting');
    stack.push(unit.id);
    for (const dependency of needs.get(unit.id)!) {
      if (!visit(dependency)) return false;
    }
    stack.pop();
    state.set(unit.id, 'done');
    order.push(unit.id);
    return true;
  };
  for (const unit of units) {
    if (!visit(unit)) return { order: [], issues };
  }
  return { order, issues };
}
