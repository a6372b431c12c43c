/**
 * An upstream: its instances, the strategy that picks among them, their active
 * health checks, and a way to wait for an instance while processes start.
 *
 * @module
 */
import type { UpstreamSpec } from '../config/types.js';
import { ActiveHealthChecker } from './health/active-checker.js';
import { Instance } from './instance.js';
import { createSelector, type Selector } from './selection/index.js';

interface Waiter {
  readonly clientIp: string;
  readonly resolve: (instance: Instance | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

export class Upstream {
  readonly name: string;
  readonly spec: UpstreamSpec;
  readonly instances: readonly Instance[];
  readonly checkers: readonly ActiveHealthChecker[];
  readonly #selector: Selector;
  /** Requests parked by waitForInstance(); a rare path (start-up, every instance down), so a plain array. */
  #waiters: Waiter[] = [];
  #closed = false;
  /** Connect timeout (ms) → dispatcher slot, for routes that override connect_timeout_secs. */
  readonly #connectSlots = new Map<number, number>();

  constructor(spec: UpstreamSpec) {
    this.name = spec.name;
    this.spec = spec;
    this.instances = Object.freeze(spec.instances.map((i, index) => new Instance(spec, i, index)));
    for (const instance of this.instances) instance.onAvailabilityChange = () => this.#wakeWaiters();
    this.#selector = createSelector(spec.strategy, this.instances);
    const health = spec.health;
    this.checkers = Object.freeze(health ? this.instances.map((i) => new ActiveHealthChecker(i, health)) : []);
  }

  /**
   * An available instance per the strategy, skipping `exclude` (the instance just
   * tried) and every instance whose `bit` is set in `tried` (all instances tried so
   * far, for a request retried more than once); undefined when none.
   */
  select(clientIp: string, exclude?: Instance, tried = 0): Instance | undefined {
    return this.#selector.select(clientIp, exclude, tried);
  }

  /**
   * The dispatcher slot for a route's connect timeout: 0 (each instance's
   * `dispatcher`) for none or the upstream's own, else a slot whose pools connect
   * with `connectTimeoutMs`, created once and shared by routes asking the same.
   * Call when building routes; per request use `instance.dispatchers[slot]`.
   */
  connectSlot(connectTimeoutMs: number | undefined): number {
    if (connectTimeoutMs === undefined || connectTimeoutMs === this.spec.connectTimeoutMs || this.instances.length === 0) return 0;
    let slot = this.#connectSlots.get(connectTimeoutMs);
    if (slot === undefined) {
      for (const instance of this.instances) slot = instance.addDispatcher(connectTimeoutMs);
      this.#connectSlots.set(connectTimeoutMs, slot!);
    }
    return slot!;
  }

  /** True while some instance is not yet ready because its process is starting (requests then wait instead of getting 503). */
  isStarting(): boolean {
    for (const instance of this.instances) if (instance.processStarting) return true;
    return false;
  }

  /**
   * Seconds a client should wait before retrying when no instance is available
   * (the `Retry-After` of a 503): until the earliest passive ejection ends, else
   * one health-check interval, else 1 s. Never below 1.
   */
  retryAfterSeconds(): number {
    let soonest = 0;
    for (const instance of this.instances) {
      const until = instance.ejectedUntil;
      if (until !== 0 && (soonest === 0 || until < soonest)) soonest = until;
    }
    if (soonest !== 0) return Math.max(1, Math.ceil((soonest - Date.now()) / 1000));
    if (this.spec.health) return Math.max(1, Math.ceil(this.spec.health.intervalMs / 1000));
    return 1;
  }

  /** Resolves with an instance as soon as one becomes available, or undefined after timeoutMs. */
  waitForInstance(clientIp: string, timeoutMs: number): Promise<Instance | undefined> {
    const now = this.select(clientIp);
    if (now || this.#closed || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, timeoutMs);
      const waiter: Waiter = { clientIp, resolve, timer };
      this.#waiters.push(waiter);
    });
  }

  /** Begins active health checks (if configured). */
  start(): void {
    for (const checker of this.checkers) checker.start();
  }

  /**
   * Stops checks, releases waiters with undefined, closes every instance's connections:
   * once their requests are done, or at once with `destroy` (a shutdown that ran out of time).
   */
  async close(destroy = false): Promise<void> {
    this.#closed = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    await Promise.all(this.checkers.map((c) => c.stop()));
    await Promise.all(this.instances.map((i) => i.close(destroy)));
  }

  /** Hands newly available instances to parked requests, each through the strategy. */
  #wakeWaiters(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      const instance = this.select(waiter.clientIp);
      if (instance) {
        clearTimeout(waiter.timer);
        waiter.resolve(instance);
      } else {
        still.push(waiter);
      }
    }
    this.#waiters = still;
  }
}
