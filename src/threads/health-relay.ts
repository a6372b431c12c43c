/**
 * Active health checks for proxy workers. Only the main thread probes the
 * instances (one check per interval per instance, as HAProxy and Envoy do,
 * rather than one per thread); it records what its checks conclude and sends
 * it to every proxy worker, which applies it to its own copy of the instance.
 * A worker that starts late begins from the recorded present.
 *
 * Passive health (ejection after failed requests) stays per thread: it is
 * about the requests each thread sends.
 *
 * @module
 */
import type { Generation } from '../runtime/generation.js';
import type { HealthReport, Instance } from '../upstream/index.js';

/** One conclusion of the main thread's checks about one instance. */
export interface HealthMessage {
  readonly instanceId: string;
  readonly report: HealthReport;
}

/** Main thread: listens to its instances' checks and remembers each instance's state. */
export class HealthRecorder {
  readonly #current = new Map<string, 'up' | 'down'>();
  readonly #listeners = new Set<(message: HealthMessage) => void>();

  /**
   * Follows the checks of the upstreams `generation` created (call before they start
   * probing). Their instances are new: whatever was recorded under the same ids
   * belonged to instances of an older definition, and is forgotten.
   */
  watch(generation: Generation): void {
    for (const upstream of generation.created) {
      for (const instance of upstream.instances) {
        this.#current.delete(instance.id);
        instance.onHealthReport = (i, report) => this.#record(i, report);
      }
    }
  }

  /** The present, for a worker that starts now: the instances whose state a check has decided. */
  snapshot(): HealthMessage[] {
    return [...this.#current].map(([instanceId, report]) => ({ instanceId, report }));
  }

  on(listener: (message: HealthMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #record(instance: Instance, report: HealthReport): void {
    if (report === 'unknown') this.#current.delete(instance.id);
    else if (report !== 'passed') this.#current.set(instance.id, report);
    const message: HealthMessage = { instanceId: instance.id, report };
    for (const listener of this.#listeners) listener(message);
  }
}

/** Proxy worker: applies the main thread's conclusions to this thread's instances. */
export class HealthMirror {
  #byId = new Map<string, Instance>();

  /** From now on, messages go to the instances of `generation`; `present` is the main thread's state now. */
  use(generation: Generation, present: readonly HealthMessage[]): void {
    const byId = new Map<string, Instance>();
    for (const upstream of generation.upstreams.values()) for (const instance of upstream.instances) byId.set(instance.id, instance);
    this.#byId = byId;
    for (const message of present) {
      const instance = byId.get(message.instanceId);
      // Carried-over instances already follow the live messages; only new ones need the present.
      if (instance !== undefined && [...generation.created].some((u) => u.instances.includes(instance))) this.apply(message);
    }
  }

  apply(message: HealthMessage): void {
    const instance = this.#byId.get(message.instanceId);
    if (!instance) return;
    if (message.report === 'passed') instance.healthCheckPassed();
    else instance.setHealth(message.report);
  }
}
