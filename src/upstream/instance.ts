/**
 * One address of an upstream (TCP or Unix socket): its pinned undici Pool, its
 * counters, and the single availability predicate every selector asks.
 *
 * Availability combines three independent signals, each owned elsewhere:
 * - the supervisor says whether the instance's process is ready (`setProcessReady`);
 * - active health checks say up/down (`setHealth`, from `health/active-checker.ts`);
 * - passive health (the circuit breaker) ejects after consecutive failed requests.
 *
 * @module
 */
import { Pool, type Dispatcher } from 'undici';
import type { InstanceSpec, UpstreamSpec } from '../config/types.js';
import { createLogger } from '../log.js';
import { CircuitBreaker, type BreakerState } from './health/circuit-breaker.js';

/**
 * How a request to an instance ended. `cancelled` (the client went away, or the
 * proxy aborted for its own reasons) counts as a request but says nothing about
 * the instance's health. See `src/pipeline/errors.ts` for the mapping from undici errors.
 */
export type RequestOutcome = 'success' | 'connect_failure' | 'reset' | 'timeout' | 'status_5xx' | 'cancelled';
export type HealthState = 'up' | 'down' | 'unknown';
/** A change of health state (to `unknown` when the process is replaced), or one more passing check. */
export type HealthReport = HealthState | 'passed';

const log = createLogger('upstream');

/** `127.0.0.1:3000` or `unix:/tmp/puma.sock`, for logs and state snapshots. */
export function describeAddress(spec: InstanceSpec): string {
  const a = spec.address;
  return a.kind === 'tcp' ? `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : `unix:${a.socketPath}`;
}

/** The origin undici sends in `Host` by default; a Unix socket has no host, so `localhost`. */
export function originOf(spec: InstanceSpec): string {
  const a = spec.address;
  return a.kind === 'tcp' ? `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : 'http://localhost';
}

/** A keep-alive Pool pinned to one instance's address, with the upstream's limits and the given connect timeout. */
function createPool(upstream: UpstreamSpec, spec: InstanceSpec, connectTimeoutMs: number): Pool {
  const a = spec.address;
  return new Pool(originOf(spec), {
    connections: upstream.maxConnectionsPerInstance,
    keepAliveTimeout: upstream.keepAliveTimeoutMs,
    // Never trust an upstream's keep-alive hint beyond our own idle timeout: it is kept below the upstream's.
    keepAliveMaxTimeout: upstream.keepAliveTimeoutMs,
    // Defaults only; the proxy passes per-route values on each dispatch.
    headersTimeout: upstream.readTimeoutMs,
    bodyTimeout: upstream.readTimeoutMs,
    connect: a.kind === 'unix' ? { socketPath: a.socketPath, timeout: connectTimeoutMs } : { timeout: connectTimeoutMs },
  });
}

export class Instance {
  readonly id: string;
  readonly upstreamName: string;
  readonly spec: InstanceSpec;
  readonly address: string;
  /** Position in the upstream's instance list. */
  readonly index: number;
  /**
   * `1 << index` for the first 32 instances, else 0: OR it into a number to mark the
   * instance as tried and pass that to `Upstream.select(ip, exclude, tried)`.
   */
  readonly bit: number;
  /** Keep-alive connections to this address alone, reused across requests (the upstream's connect timeout). */
  readonly dispatcher: Dispatcher;
  /**
   * `dispatchers[slot]` for a connect-timeout slot from `Upstream.connectSlot()`;
   * slot 0 is `dispatcher`. A connect timeout belongs to a connection, not a request,
   * so a route that overrides `connect_timeout_secs` gets pools of its own; an array
   * indexed by a slot fixed at build time keeps the per-request lookup to one read.
   */
  readonly dispatchers: Dispatcher[];
  readonly #upstreamSpec: UpstreamSpec;
  /** Requests (and later open WebSockets) currently using this instance. */
  inFlight = 0;
  requests = 0;
  failures = 0;
  readonly #usesProcess: boolean;
  readonly #count5xx: boolean;
  readonly #breaker: CircuitBreaker;
  #processReady: boolean;
  /** The supervisor gave up on the process (or it was stopped for good): nothing to wait for. */
  #processGone = false;
  #health: HealthState = 'unknown';
  /**
   * Cached result of the three signals, recomputed only when one changes, so that
   * `isAvailable()` (asked for every instance on every request) is one field read.
   */
  #available: boolean;
  /** Set by the owning Upstream: one listener, not an EventEmitter, to keep instances light. */
  onAvailabilityChange: ((instance: Instance) => void) | undefined;
  /**
   * Told what this thread's active health checks conclude; set on the main thread when
   * proxy workers mirror its checks instead of running their own (threads/health-relay.ts).
   */
  onHealthReport: ((instance: Instance, report: HealthReport) => void) | undefined;

  constructor(upstream: UpstreamSpec, spec: InstanceSpec, index = 0) {
    this.id = spec.id;
    this.index = index;
    this.bit = index < 32 ? (1 << index) >>> 0 : 0;
    this.upstreamName = upstream.name;
    this.spec = spec;
    this.address = describeAddress(spec);
    this.#usesProcess = spec.process !== undefined || upstream.process !== undefined;
    // An instance without a process is there to be used at once; one with a process waits for the supervisor.
    this.#processReady = !this.#usesProcess;
    this.#count5xx = upstream.passive.count5xx;
    // nginx's rule: the only instance of an upstream is never ejected. There is nowhere else to
    // send its traffic, so ejection would only turn quick 502s into 503s and, worse, keep the
    // instance out (for up to max_ejection_secs) after it has recovered.
    const passive = upstream.instances.length > 1 ? upstream.passive : { ...upstream.passive, maxFails: 0 };
    this.#breaker = new CircuitBreaker(passive, (state, reason) => this.#onBreakerChange(state, reason));
    this.#upstreamSpec = upstream;
    this.dispatcher = createPool(upstream, spec, upstream.connectTimeoutMs);
    this.dispatchers = [this.dispatcher];
    this.#available = this.#computeAvailable();
  }

  /** The one predicate every selector asks: process ready, not down by active health, not ejected. */
  isAvailable(): boolean {
    return this.#available;
  }

  get processReady(): boolean {
    return this.#processReady;
  }

  get health(): HealthState {
    return this.#health;
  }

  /** Whether a supervised process (instance- or upstream-level) serves this instance. */
  get usesProcess(): boolean {
    return this.#usesProcess;
  }

  get breakerState(): BreakerState {
    return this.#breaker.state;
  }

  get consecutiveFailures(): number {
    return this.#breaker.consecutiveFailures;
  }

  /** Epoch ms when the passive ejection ends; 0 when not ejected. */
  get ejectedUntil(): number {
    return this.#breaker.ejectedUntil;
  }

  /** Whether the instance is out only because its process is (re)starting: requests should wait for it. */
  get processStarting(): boolean {
    return this.#usesProcess && !this.#processReady && !this.#processGone;
  }

  /**
   * The process will not come back by itself (the supervisor gave up, or the fleet
   * stopped): the instance is unavailable and requests stop waiting for it.
   * A later `setProcessReady(true)` undoes this.
   */
  setProcessGone(reason: string): void {
    const wasReady = this.#processReady;
    if (this.#processGone && !wasReady) return;
    this.#processGone = true;
    this.#processReady = false;
    this.#forgetHealth();
    log.warn(`${this.id} (${this.address}) process gone: ${reason}`);
    if (wasReady) this.#refresh();
  }

  /** Called by the supervisor when the instance's process becomes ready or stops being ready. */
  setProcessReady(ready: boolean): void {
    if (ready) this.#processGone = false;
    if (ready === this.#processReady) return;
    this.#processReady = ready;
    if (ready) {
      // A freshly (re)started process owes nothing to the failures of its predecessor.
      this.#breaker.reset('process reported ready');
    } else {
      // Health history belongs to the process that is gone; the next one is judged afresh.
      this.#forgetHealth();
    }
    log.info(`${this.id} (${this.address}) process ${ready ? 'ready' : 'not ready'}`);
    this.#refresh();
  }

  /** Called by the active health checker when the instance crosses a threshold. */
  setHealth(health: HealthState): void {
    if (health === this.#health) return;
    this.#health = health;
    this.#refresh();
    this.onHealthReport?.(this, health);
  }

  /**
   * An active health check passed. Like Envoy's default
   * (`successful_active_health_check_uneject_host`), that lifts a passive ejection at
   * once instead of waiting out a cool-down that may have grown to minutes.
   */
  healthCheckPassed(): void {
    this.onHealthReport?.(this, 'passed');
    if (this.#breaker.state !== 'closed') this.#breaker.reset('active health check passed');
  }

  /** A request (or WebSocket) starts using this instance. */
  requestStarted(): void {
    this.inFlight++;
    this.#breaker.onRequestStarted();
    // Half-open lets exactly one probe through: after it starts, the instance is unavailable until it ends.
    if (this.#available && !this.#breaker.allowsRequest()) this.#refresh();
  }

  /** A request ended: updates counters and passive health. */
  requestFinished(outcome: RequestOutcome): void {
    this.inFlight--;
    this.requests++;
    if (outcome === 'cancelled') {
      // Neither a success nor a failure; if it was the half-open probe, the next request probes instead.
      this.#breaker.onRequestCancelled();
      if (!this.#available) this.#refresh();
      return;
    }
    const failed = outcome !== 'success' && (outcome !== 'status_5xx' || this.#count5xx);
    if (failed) this.failures++;
    this.#breaker.onRequestFinished(failed, outcome);
  }

  /** Adds a pool with another connect timeout (build time, via Upstream.connectSlot); returns its slot. */
  addDispatcher(connectTimeoutMs: number): number {
    this.dispatchers.push(createPool(this.#upstreamSpec, this.spec, connectTimeoutMs));
    return this.dispatchers.length - 1;
  }

  async close(): Promise<void> {
    this.#breaker.dispose();
    this.onAvailabilityChange = undefined;
    this.onHealthReport = undefined;
    await Promise.all(this.dispatchers.map((d) => d.close()));
  }

  #forgetHealth(): void {
    if (this.#health === 'unknown') return;
    this.#health = 'unknown';
    this.onHealthReport?.(this, 'unknown');
  }

  #computeAvailable(): boolean {
    return this.#processReady && this.#health !== 'down' && this.#breaker.allowsRequest();
  }

  #refresh(): void {
    const available = this.#computeAvailable();
    if (available === this.#available) return;
    this.#available = available;
    this.onAvailabilityChange?.(this);
  }

  #onBreakerChange(state: BreakerState, reason: string): void {
    const level = state === 'open' ? 'warn' : 'info';
    const what = state === 'open' ? 'ejected' : state === 'half_open' ? 'half-open' : 'restored';
    log[level](`${this.id} (${this.address}) ${what}: ${reason}`);
    this.#refresh();
  }
}
