/**
 * Crash bookkeeping for one unit: how long to wait before the next restart, when
 * a stable run resets the backoff, and when a crash loop means giving up. Pure
 * (time and randomness are passed in) so it is tested without processes.
 *
 * @module
 */

import type { RestartPolicy } from './protocol.js';

export const defaultRestartPolicy: RestartPolicy = Object.freeze({
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  stableAfterMs: 60_000,
  maxCrashes: 5,
  crashWindowMs: 120_000,
});

export type CrashDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly attempt: number }
  | { readonly action: 'give-up'; readonly crashes: number; readonly windowMs: number };

export class CrashTracker {
  readonly #policy: RestartPolicy;
  /** Consecutive crashes since the last stable run: the backoff exponent. */
  #attempt = 0;
  /** Times of recent crashes, oldest first, pruned to the window. */
  #crashTimes: number[] = [];
  #readySince: number | undefined;

  constructor(policy: RestartPolicy) {
    this.#policy = policy;
  }

  /** The process became ready at `now`. */
  markReady(now: number): void {
    this.#readySince = now;
  }

  /**
   * The process exited unexpectedly at `now`. `random` in [0, 1) supplies the
   * jitter: the delay is drawn from [d/2, d] ("equal jitter"), so restarts of
   * several crashed units spread out yet each still waits at least half the
   * exponential step.
   */
  recordCrash(now: number, random: number): CrashDecision {
    const policy = this.#policy;
    if (this.#readySince !== undefined && now - this.#readySince >= policy.stableAfterMs) this.#attempt = 0;
    this.#readySince = undefined;

    this.#crashTimes.push(now);
    while (this.#crashTimes.length > 0 && now - this.#crashTimes[0]! > policy.crashWindowMs) this.#crashTimes.shift();
    if (this.#crashTimes.length >= policy.maxCrashes) {
      return { action: 'give-up', crashes: this.#crashTimes.length, windowMs: policy.crashWindowMs };
    }

    this.#attempt += 1;
    const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (this.#attempt - 1));
    const delayMs = Math.round(step / 2 + (step / 2) * random);
    return { action: 'restart', delayMs, attempt: this.#attempt };
  }
}
