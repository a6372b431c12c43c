/**
 * Feeds the supervisor's events into instance readiness: the glue between
 * `SupervisorClient.on()` and `Instance.setProcessReady()`.
 *
 * - `ready` makes the unit's instances available (subject to health);
 * - `stopping`, `exited`, `restarting` take them out while the process is away
 *   (requests wait for it, `Upstream.isStarting()` is true);
 * - `failed`, or losing the worker for good, marks them gone (503 at once);
 * - units left out by `--only`/`--except` run elsewhere: their instances are
 *   treated as ready from the start, health checks still apply.
 *
 * @module
 */
import type { SupervisorEvent } from '../supervisor/protocol.js';
import type { Instance } from './instance.js';
import type { Upstream } from './upstream.js';

/** What this module needs of a SupervisorClient (structural, so tests and the real client both fit). */
export interface SupervisorSource {
  readonly units: ReadonlyArray<{ readonly name: string; readonly instances: ReadonlyArray<{ readonly id: string }> }>;
  readonly excluded: ReadonlyArray<{ readonly name: string; readonly instances: ReadonlyArray<{ readonly id: string }> }>;
  on(listener: (event: SupervisorEvent) => void): () => void;
}

/** Subscribes `upstreams` to `supervisor`'s events; returns the unsubscribe function. */
export function linkSupervisor(upstreams: ReadonlyMap<string, Upstream>, supervisor: SupervisorSource): () => void {
  const byId = new Map<string, Instance>();
  for (const upstream of upstreams.values()) for (const instance of upstream.instances) byId.set(instance.id, instance);
  const unitInstances = new Map<string, Instance[]>();
  for (const unit of supervisor.units) unitInstances.set(unit.name, instancesOf(unit, byId));
  for (const unit of supervisor.excluded) for (const instance of instancesOf(unit, byId)) instance.setProcessReady(true);
  const supervised = [...unitInstances.values()].flat();

  return supervisor.on((event) => {
    switch (event.type) {
      case 'ready':
        for (const id of event.instanceIds) byId.get(id)?.setProcessReady(true);
        return;
      case 'stopping':
      case 'exited':
      case 'restarting':
        for (const instance of unitInstances.get(event.unit) ?? []) instance.setProcessReady(false);
        return;
      case 'failed':
        for (const instance of unitInstances.get(event.unit) ?? []) instance.setProcessGone(`supervisor gave up: ${event.reason}`);
        return;
      case 'workerLost':
        for (const instance of supervised) {
          if (event.willRestart) instance.setProcessReady(false);
          else instance.setProcessGone(`supervisor worker lost: ${event.error.message}`);
        }
        return;
      default:
        return;
    }
  });
}

function instancesOf(unit: { readonly instances: ReadonlyArray<{ readonly id: string }> }, byId: ReadonlyMap<string, Instance>): Instance[] {
  return unit.instances.map((i) => byId.get(i.id)).filter((i): i is Instance => i !== undefined);
}
