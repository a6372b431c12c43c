/**
 * Request metrics (on when `[admin]` is configured): in the `done` phase, count the
 * request in its route's block (method, status class), observe its duration and
 * the upstream's, and count retries and failures. The block is found when the
 * generation is built (one filter object per route), so a request pays a function
 * call, a few typed-array increments and two short bucket scans.
 *
 * @module
 */
import type { RouteCounters } from '../metrics/thread-metrics.js';
import { methodIndex, statusClassIndex, statusClassLabels } from '../metrics/thread-metrics.js';
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';

const classes = statusClassLabels.length;

export class MetricsFilter implements Filter {
  readonly name = 'metrics';
  readonly #counters: RouteCounters;

  constructor(counters: RouteCounters) {
    this.#counters = counters;
  }

  done(x: Exchange): void {
    const counters = this.#counters;
    const status = x.status;
    counters.requests[methodIndex(x.method) * classes + statusClassIndex(status)]!++;
    counters.duration.observe(performance.now() - x.startedAt);
    if (x.upstreamEndedAt !== 0) counters.upstreamDuration.observe(x.upstreamEndedAt - x.upstreamStartedAt);
    if (x.attempts > 1) counters.retries += x.attempts - 1;
    // Rare: only answers warpdrive made for a failure.
    if (x.error !== undefined && status >= 500) counters.countError(x.error.code);
  }
}
