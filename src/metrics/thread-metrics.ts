/**
 * Request counters of one proxy thread: what the metrics filter increments per
 * request, and what the admin listener collects from every thread at scrape time
 * (as `ThreadMetricsSnapshot`, plain data that crosses threads by message) and adds
 * up (aggregate.ts). Nothing here is shared between threads, so counting takes no
 * lock and no atomic: per request, one block of counters found at build time, a
 * few typed-array increments and two histogram observations.
 *
 * Counters are kept per route and upstream (`RouteCounters`), created when a
 * generation first builds a route and kept across reloads under the same label, so
 * a reload does not reset them.
 *
 * @module
 */
import type { RouteSpec } from '../config/types.js';
import { Histogram, snapshotHistogram, type HistogramSnapshot } from './histogram.js';

/** Method labels; anything else counts as OTHER (keeps the label set bounded). */
export const methodLabels = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'OTHER'] as const;
/** Status class labels by `status / 100`; slot 0 is a request that got no status at all. */
export const statusClassLabels = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const classes = statusClassLabels.length;

/** Slot of a method in `methodLabels`: comparisons against interned strings, no lookup. */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'PATCH':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return 7;
  }
}

/** Slot of a status in `statusClassLabels`. */
export function statusClassIndex(status: number): number {
  return status >= 100 && status < 600 ? (status / 100) | 0 : 0;
}

/** The label a route gets: its 1-based position, as `warpdrive check` numbers it. */
export function routeLabel(spec: RouteSpec): string {
  return String(spec.index + 1);
}

/** The counters of one route (and its upstream) on one thread. */
export class RouteCounters {
  readonly route: string;
  readonly upstream: string;
  /** By `methodIndex * 6 + statusClassIndex`. */
  readonly requests = new Float64Array(methodLabels.length * classes);
  /** Client-seen: from accepting the request to the end of its response. */
  readonly duration = new Histogram();
  /** The upstream's share: first attempt to the end of its response. */
  readonly upstreamDuration = new Histogram();
  /** Extra attempts (an attempt after the first). */
  retries = 0;
  /** Answers warpdrive gave for a failure (502/503/504...), by error code. */
  readonly errors = new Map<string, number>();

  constructor(route: string, upstream: string) {
    this.route = route;
    this.upstream = upstream;
  }

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

export interface RouteCountersSnapshot {
  readonly route: string;
  readonly upstream: string;
  readonly requests: number[];
  readonly duration: HistogramSnapshot;
  readonly upstreamDuration: HistogramSnapshot;
  readonly retries: number;
  readonly errors: [code: string, count: number][];
}

export class ThreadMetrics {
  readonly #blocks = new Map<string, RouteCounters>();
  /** Requests refused or answered before a route was found (400, 404...). */
  readonly unrouted = this.#block('none', 'none');

  /**
   * The block of `spec`'s route: the same object for the same route label and upstream,
   * across generations. A route that only serves static files has upstream `static`.
   */
  forRoute(spec: RouteSpec): RouteCounters {
    return this.#block(routeLabel(spec), spec.upstream ?? 'static');
  }

  snapshot(): RouteCountersSnapshot[] {
    return [...this.#blocks.values()].map((c) => ({
      route: c.route,
      upstream: c.upstream,
      requests: Array.from(c.requests),
      duration: snapshotHistogram(c.duration),
      upstreamDuration: snapshotHistogram(c.upstreamDuration),
      retries: c.retries,
      errors: [...c.errors],
    }));
  }

  #block(route: string, upstream: string): RouteCounters {
    const key = `${route}\u0000${upstream}`;
    let block = this.#blocks.get(key);
    if (block === undefined) this.#blocks.set(key, (block = new RouteCounters(route, upstream)));
    return block;
  }
}
