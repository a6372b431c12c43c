/**
 * Every upstream failure (502, 503 for no instance, 504; also a response cut after
 * it started) and every internal error is logged once, with its cause: the error code, what undici
 * reported (connection refused, reset, timeout...) and, for a 503, why no
 * instance was available. Under a flood the log is rate limited per proxy thread
 * (`maxLinesPerSecond`): the lines beyond are counted and reported in one line
 * when the second is over. The most recent errors are also kept (bounded) for the
 * admin dashboard.
 *
 * The filter is always on; for a request that succeeded it costs one comparison.
 *
 * @module
 */
import { createLogger, type Logger } from '../log.js';
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import type { Upstream } from '../upstream/index.js';

/** One failure, as the dashboard lists it. */
export interface RecentError {
  /** Epoch ms. */
  readonly at: number;
  readonly thread: number;
  readonly status: number;
  readonly code: string;
  readonly request: string;
  readonly upstream: string | undefined;
  readonly instance: string | undefined;
  readonly cause: string;
  readonly requestId: string;
}

const RECENT_KEPT = 50;

/** Why each instance of `upstream` was out (for a 503): `rails#0 ejected, rails#1 process starting`. */
export function describeUnavailable(upstream: Upstream): string {
  return upstream.instances
    .map((i) => {
      const why = i.drained
        ? 'drained'
        : !i.processReady
          ? i.processStarting ? 'process starting' : 'process not running'
          : i.health === 'down'
            ? 'down (health check)'
            : i.breakerState !== 'closed'
              ? `ejected (${i.consecutiveFailures} consecutive failures)`
              : 'available';
      return `${i.id} ${why}`;
    })
    .join(', ');
}

/** What undici reported, briefly: `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:3000`. */
function describeCause(cause: unknown): string {
  if (cause === undefined) return '';
  const e = cause as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(cause);
  return code === '' || message.includes(code) ? message : `${code}: ${message}`;
}

/** One proxy thread's error log: rate limited lines, and the recent ones kept. */
export class UpstreamErrorLog {
  readonly #thread: number;
  readonly #log: Logger;
  readonly #maxLinesPerSecond: number;
  readonly #recent: RecentError[] = [];
  #next = 0;
  #windowStart = 0;
  #linesInWindow = 0;
  #suppressed = 0;
  #summaryTimer: NodeJS.Timeout | undefined;

  constructor(thread: number, options: { maxLinesPerSecond?: number; logger?: Logger } = {}) {
    this.#thread = thread;
    this.#log = options.logger ?? createLogger(thread === 0 ? 'proxy' : `proxy ${thread}`);
    this.#maxLinesPerSecond = options.maxLinesPerSecond ?? 10;
  }

  /** The errors kept, oldest first. */
  recent(): RecentError[] {
    return this.#recent.length < RECENT_KEPT ? [...this.#recent] : [...this.#recent.slice(this.#next), ...this.#recent.slice(0, this.#next)];
  }

  record(x: Exchange): void {
    const error = x.error!;
    const route = x.route;
    const instance = x.lastInstance;
    const request = `${x.method} ${x.host}${x.path}${x.query === '' ? '' : `?${x.query}`}`;
    let cause = describeCause(x.cause);
    if (error.status === 503 && route?.upstream !== undefined) cause = describeUnavailable(route.upstream);
    const entry: RecentError = {
      at: Date.now(),
      thread: this.#thread,
      status: x.status,
      code: error.code,
      request,
      upstream: route?.spec.upstream,
      instance: instance?.id,
      cause,
      requestId: x.requestId,
    };
    if (this.#recent.length < RECENT_KEPT) this.#recent.push(entry);
    else this.#recent[this.#next] = entry;
    this.#next = (this.#next + 1) % RECENT_KEPT;

    if (!this.#allowLine(entry.at)) return;
    const where =
      route === undefined
        ? ''
        : ` -> ${route.spec.upstream}${instance === undefined ? '' : ` ${instance.id} (${instance.address})`}${x.attempts > 1 ? ` after ${x.attempts} attempts` : ''}`;
    const cut = x.status < 500 ? ` (response cut after status ${x.status})` : '';
    this.#log.warn(`${x.status} ${request}${where}${cut}: ${error.message} [${error.code}]${cause === '' ? '' : `; ${cause}`}${x.requestId === '' ? '' : ` rid=${x.requestId}`}`);
  }

  #allowLine(now: number): boolean {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#linesInWindow = 0;
    }
    if (this.#linesInWindow < this.#maxLinesPerSecond) {
      this.#linesInWindow++;
      return true;
    }
    this.#suppressed++;
    // One summary when the flood's second is over, whether or not more errors follow.
    this.#summaryTimer ??= setTimeout(() => this.#summarize(), Math.max(1, 1000 - (now - this.#windowStart))).unref();
    return false;
  }

  #summarize(): void {
    this.#summaryTimer = undefined;
    if (this.#suppressed === 0) return;
    this.#log.warn(`${this.#suppressed} more upstream error${this.#suppressed === 1 ? '' : 's'} not logged (at most ${this.#maxLinesPerSecond} lines a second per proxy thread)`);
    this.#suppressed = 0;
  }
}

export class ErrorLogFilter implements Filter {
  readonly name = 'error_log';
  readonly #log: UpstreamErrorLog;

  constructor(log: UpstreamErrorLog) {
    this.#log = log;
  }

  done(x: Exchange): void {
    const error = x.error;
    if (error === undefined) return;
    // Upstream failures (502, 503 for no instance, 504), whether answered or cutting a response that had
    // started, and warpdrive's own faults; not the client's mistakes, nor the 503s of a shutdown.
    const source = error.source;
    if (source === 'connect' || source === 'read' || source === 'timeout' || error.code === 'WD_ERR_INTERNAL') this.#log.record(x);
  }
}
