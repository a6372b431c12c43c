/**
 * Process readiness for proxy workers. The supervisor runs once, in its own
 * thread, and reports to the main thread; every proxy thread gates its own
 * copy of the upstream instances on those reports. The main thread keeps the
 * current state of each unit (`SupervisorRecorder`), so a proxy worker that
 * starts (or restarts) late begins from the present, and forwards every later
 * event; in the worker, `RelayedSupervisor` feeds them to `linkSupervisor`
 * exactly as the real client does on the main thread.
 *
 * @module
 */
import type { SupervisorEvent } from '../supervisor/protocol.js';
import type { SupervisorSource } from '../upstream/index.js';

/** A unit as `linkSupervisor` needs it: plain data, sendable to a worker. */
export interface RelayedUnit {
  readonly name: string;
  readonly instances: ReadonlyArray<{ readonly id: string }>;
}

export interface RelayedSupervisorData {
  readonly units: readonly RelayedUnit[];
  readonly excluded: readonly RelayedUnit[];
  /** Replays the present: one event per unit that has left its initial "starting" state. */
  readonly replay: readonly SupervisorEvent[];
}

type ReadinessEvent = Extract<SupervisorEvent, { type: 'ready' | 'stopping' | 'exited' | 'restarting' | 'failed' | 'workerLost' }>;

/** The events that change whether a unit's instances take requests (see upstream/supervisor-link.ts). */
export function gatesReadiness(event: SupervisorEvent): event is ReadinessEvent {
  switch (event.type) {
    case 'ready':
    case 'stopping':
    case 'exited':
    case 'restarting':
    case 'failed':
    case 'workerLost':
      return true;
    default:
      return false;
  }
}

function plainUnits(units: readonly RelayedUnit[]): RelayedUnit[] {
  return units.map((u) => ({ name: u.name, instances: u.instances.map((i) => ({ id: i.id })) }));
}

/**
 * Main thread: follows the real supervisor from its start and remembers where each
 * unit stands. It is itself a SupervisorSource whose `on` replays the present first,
 * so that upstreams a reload creates start from their processes' state, and a proxy
 * worker that starts late is handed the same present (`snapshot`).
 */
export class SupervisorRecorder implements SupervisorSource {
  #units: RelayedUnit[];
  #excluded: RelayedUnit[];
  /** Per unit, the last event that decided its readiness. */
  readonly #current = new Map<string, SupervisorEvent>();
  readonly #listeners = new Set<(event: SupervisorEvent) => void>();

  constructor(source: SupervisorSource) {
    this.#units = plainUnits(source.units);
    this.#excluded = plainUnits(source.excluded);
    source.on((event) => this.#record(event));
  }

  get units(): readonly RelayedUnit[] {
    return this.#units;
  }

  get excluded(): readonly RelayedUnit[] {
    return this.#excluded;
  }

  /** After a reload changed the supervised units: forget the ones that are gone. */
  setUnits(source: Pick<SupervisorSource, 'units' | 'excluded'>): void {
    this.#units = plainUnits(source.units);
    this.#excluded = plainUnits(source.excluded);
    const names = new Set(this.#units.map((u) => u.name));
    for (const name of this.#current.keys()) if (!names.has(name)) this.#current.delete(name);
  }

  /** What a proxy worker starting now needs: the units, and their present state as events. */
  snapshot(): RelayedSupervisorData {
    return { units: this.#units, excluded: this.#excluded, replay: [...this.#current.values()] };
  }

  /** The present (as events), then every readiness event from now on. */
  on(listener: (event: SupervisorEvent) => void): () => void {
    for (const event of this.#current.values()) listener(event);
    return this.onLive(listener);
  }

  /** Every readiness event from now on (relays to proxy workers, which got the present in a snapshot). */
  onLive(listener: (event: SupervisorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #record(event: SupervisorEvent): void {
    if (!gatesReadiness(event)) return;
    if (event.type === 'workerLost') {
      // It speaks for every unit at once: afterwards each unit is "away" or "gone" until it reports again.
      for (const unit of this.#units) {
        this.#current.set(
          unit.name,
          event.willRestart
            ? { type: 'stopping', unit: unit.name, reason: `supervisor worker lost: ${event.error.message}` }
            : { type: 'failed', unit: unit.name, reason: `supervisor worker lost: ${event.error.message}`, lastLines: [] },
        );
      }
    } else {
      this.#current.set(event.unit, event);
    }
    for (const listener of this.#listeners) listener(event);
  }
}

/** Proxy worker: a SupervisorSource fed by the main thread's messages. */
export class RelayedSupervisor implements SupervisorSource {
  readonly units: readonly RelayedUnit[];
  readonly excluded: readonly RelayedUnit[];
  readonly #listeners = new Set<(event: SupervisorEvent) => void>();
  readonly #replay: readonly SupervisorEvent[];

  constructor(data: RelayedSupervisorData) {
    this.units = data.units;
    this.excluded = data.excluded;
    this.#replay = data.replay;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    this.#listeners.add(listener);
    // The present first, so the subscriber starts where the main thread stands.
    for (const event of this.#replay) listener(event);
    return () => this.#listeners.delete(listener);
  }

  deliver(event: SupervisorEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
