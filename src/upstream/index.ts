/**
 * The upstream module's public face: build every upstream from the runtime plan,
 * and one small read-only view of instance state for metrics/status endpoints.
 *
 * @module
 */
import type { RuntimePlan } from '../config/types.js';
import type { HealthState } from './instance.js';
import { Upstream } from './upstream.js';

export { Instance, type RequestOutcome, type HealthState, type HealthReport } from './instance.js';
export { Upstream } from './upstream.js';
export { linkSupervisor, type SupervisorSource } from './supervisor-link.js';

/** Builds one Upstream per `[upstreams.NAME]`, in config order. Call `start()` on each to begin health checks. */
export function createUpstreams(plan: RuntimePlan): Map<string, Upstream> {
  const upstreams = new Map<string, Upstream>();
  for (const [name, spec] of plan.upstreams) upstreams.set(name, new Upstream(spec));
  return upstreams;
}

/** A plain, serialisable picture of one instance (safe to send across a worker boundary). */
export interface InstanceState {
  readonly id: string;
  readonly upstream: string;
  /** `127.0.0.1:3000` or `unix:/path.sock`. */
  readonly address: string;
  readonly available: boolean;
  readonly processReady: boolean;
  readonly health: HealthState;
  /** Passive health: `closed` (in use), `open` (ejected) or `half_open` (one probe allowed). */
  readonly breaker: 'closed' | 'open' | 'half_open';
  /** Epoch ms when a passive ejection ends; absent when not ejected. */
  readonly ejectedUntil?: number;
  readonly inFlight: number;
  readonly requests: number;
  readonly failures: number;
  readonly consecutiveFailures: number;
}

/** The state of every instance of every upstream, read at call time. */
export function snapshotStates(upstreams: ReadonlyMap<string, Upstream>): InstanceState[] {
  const states: InstanceState[] = [];
  for (const upstream of upstreams.values()) {
    for (const i of upstream.instances) {
      const state: InstanceState = {
        id: i.id,
        upstream: upstream.name,
        address: i.address,
        available: i.isAvailable(),
        processReady: i.processReady,
        health: i.health,
        breaker: i.breakerState,
        inFlight: i.inFlight,
        requests: i.requests,
        failures: i.failures,
        consecutiveFailures: i.consecutiveFailures,
        ...(i.ejectedUntil !== 0 ? { ejectedUntil: i.ejectedUntil } : {}),
      };
      states.push(state);
    }
  }
  return states;
}
