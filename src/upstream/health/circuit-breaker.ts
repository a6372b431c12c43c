/**
 * Passive health: a circuit breaker per instance, fed by the outcomes of real requests.
 *
 * closed → (maxFails consecutive failures) → open (ejected for a cool-down) →
 * half-open (one probe request let through) → closed on success, open again
 * (for twice as long, up to maxEjectionMs) on failure. This is nginx's
 * `max_fails`/`fail_timeout` with Envoy's growing ejection time and half-open probing.
 *
 * The cool-down ends by a timer rather than by comparing `Date.now()` in
 * `isAvailable()`, so the per-request predicate stays a couple of field reads.
 *
 * @module
 */
import type { PassiveHealthSpec } from '../../config/types.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  readonly #spec: PassiveHealthSpec;
  /** Called after every state change (the instance forwards it to its upstream's waiters). */
  readonly #onChange: (state: BreakerState, reason: string) => void;
  #state: BreakerState = 'closed';
  consecutiveFailures = 0;
  /** How many ejections in a row without a stable period between them; drives the doubling. */
  #ejections = 0;
  /** Epoch ms when the current ejection ends; 0 when not ejected. */
  ejectedUntil = 0;
  /** Epoch ms when the breaker last closed after an ejection, to decide when the doubling resets. */
  #closedAt = 0;
  /** True while the one half-open probe request is in flight. */
  #probeInFlight = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(spec: PassiveHealthSpec, onChange: (state: BreakerState, reason: string) => void) {
    this.#spec = spec;
    this.#onChange = onChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Whether a new request may use the instance: closed, or half-open with no probe out yet. */
  allowsRequest(): boolean {
    return this.#state === 'closed' || (this.#state === 'half_open' && !this.#probeInFlight);
  }

  /** A request was sent to the instance; in half-open state it becomes the probe. */
  onRequestStarted(): void {
    if (this.#state === 'half_open') this.#probeInFlight = true;
  }

  /** Records one request's outcome; `failed` already accounts for `count5xx`. */
  onRequestFinished(failed: boolean, what: string): void {
    if (!failed) {
      this.consecutiveFailures = 0;
      if (this.#state === 'half_open' && this.#probeInFlight) this.#close('probe request succeeded');
      return;
    }
    this.consecutiveFailures++;
    if (this.#state === 'half_open') {
      // Only the probe's answer decides; a straggler from before the ejection may land here too,
      // and a failure is a failure either way.
      this.#eject(`probe request failed (${what})`);
      return;
    }
    // While open, late failures of requests sent before the ejection change nothing.
    if (this.#state === 'closed' && this.#spec.maxFails > 0 && this.consecutiveFailures >= this.#spec.maxFails) {
      this.#eject(`${this.consecutiveFailures} consecutive failures (last: ${what})`);
    }
  }

  /** A request ended without telling anything about the instance; a cancelled probe frees the probe slot. */
  onRequestCancelled(): void {
    if (this.#state === 'half_open') this.#probeInFlight = false;
  }

  /** Forgets any ejection (the instance's process was restarted and reported ready again). */
  reset(reason: string): void {
    this.consecutiveFailures = 0;
    if (this.#state !== 'closed') this.#close(reason);
  }

  /** Stops the cool-down timer (the instance is closing). */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #eject(reason: string): void {
    const now = Date.now();
    // A stable period as long as the longest ejection resets the doubling, so an instance
    // that failed once last week starts from failTimeoutMs again.
    if (this.#closedAt !== 0 && now - this.#closedAt >= this.#spec.maxEjectionMs) this.#ejections = 0;
    const durationMs = Math.min(this.#spec.failTimeoutMs * 2 ** this.#ejections, this.#spec.maxEjectionMs);
    this.#ejections++;
    this.#state = 'open';
    this.#probeInFlight = false;
    this.ejectedUntil = now + durationMs;
    this.dispose();
    this.#timer = setTimeout(() => this.#halfOpen(), durationMs);
    // The cool-down must never keep the process alive on its own.
    this.#timer.unref();
    this.#onChange('open', `${reason}; ejected for ${durationMs} ms`);
  }

  #halfOpen(): void {
    this.#timer = undefined;
    this.#state = 'half_open';
    this.#probeInFlight = false;
    this.ejectedUntil = 0;
    this.#onChange('half_open', 'cool-down over; letting one probe request through');
  }

  #close(reason: string): void {
    this.dispose();
    this.#state = 'closed';
    this.#probeInFlight = false;
    this.ejectedUntil = 0;
    this.#closedAt = Date.now();
    this.#onChange('closed', reason);
  }
}
