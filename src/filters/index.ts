/**
 * Which filters a route gets, decided once per route when a generation is built.
 * The order is the order a request meets them: authentication before anything
 * touches the upstream request, forwarded headers before `add_headers` (which
 * may override them), logging last.
 *
 * Filters that apply to every request, routed or not (the access log), are also
 * returned by `unroutedFilters`, which serves requests refused before a route
 * was found (400, 404...).
 *
 * @module
 */
import type { RouteSpec, RuntimePlan } from '../config/types.js';
import { createLogger } from '../log.js';
import { LogSink } from '../log-sink.js';
import { compileFilterChain, type Filter, type FilterChain } from '../pipeline/filter.js';
import { AccessLogFilter } from './access-log.js';
import { AdminAuthFilter } from './admin-auth.js';
import { ForwardedHeadersFilter } from './forwarded-headers.js';
import { RouteHeadersFilter } from './route-headers.js';
import { TrustedProxies } from './trusted-proxies.js';

const log = createLogger('proxy');

/**
 * What a proxy thread keeps across generations for its filters: the access-log
 * writer to stdout (created when a generation first asks for it).
 */
export class ThreadServices {
  readonly thread: number;
  #accessLog: LogSink | undefined;

  constructor(thread: number) {
    this.thread = thread;
  }

  get accessLog(): LogSink {
    this.#accessLog ??= new LogSink({ fd: 1, onDropped: (count) => log.warn(`${count} access-log lines dropped: stdout could not keep up`) });
    return this.#accessLog;
  }

  /** Resolves when every access-log line so far is written. */
  flush(): Promise<void> {
    return this.#accessLog?.flush() ?? Promise.resolve();
  }
}

/** The filters of one generation, shared by its routes where they are the same object. */
export class GenerationFilters {
  readonly trusted: TrustedProxies;
  readonly #plan: RuntimePlan;
  readonly #forwarded: ForwardedHeadersFilter | undefined;
  readonly #auth: AdminAuthFilter | undefined;
  readonly #accessLog: AccessLogFilter | undefined;

  constructor(plan: RuntimePlan, services: ThreadServices) {
    this.#plan = plan;
    const middleware = plan.middleware;
    this.trusted = new TrustedProxies(middleware.trustedProxies);
    this.#forwarded = middleware.forwardHeaders ? new ForwardedHeadersFilter(this.trusted) : undefined;
    this.#auth = middleware.adminToken === undefined ? undefined : new AdminAuthFilter(middleware.adminToken);
    this.#accessLog = middleware.logRequests ? new AccessLogFilter(services.accessLog) : undefined;
  }

  /** The chain for one route. */
  forRoute(spec: RouteSpec): FilterChain {
    const filters: Filter[] = [];
    if (spec.requireAuth) {
      // checks.ts refuses require_auth without a token, so this never fires on a loaded config.
      if (this.#auth === undefined) throw new Error(`route ${spec.index} requires auth but no admin token is configured`);
      filters.push(this.#auth);
    }
    if (this.#forwarded) filters.push(this.#forwarded);
    if (spec.addHeaders.length > 0) filters.push(new RouteHeadersFilter(spec.addHeaders));
    if (this.#accessLog) filters.push(this.#accessLog);
    return compileFilterChain(filters);
  }

  /** The chain for requests that never reached a route (refused or unmatched). */
  unrouted(): FilterChain {
    return compileFilterChain(this.#accessLog ? [this.#accessLog] : []);
  }

  /** Names of the filters a route gets, for `warpdrive check`. */
  describe(spec: RouteSpec): string[] {
    return this.forRoute(spec).all.map((f) => f.name);
  }

  get plan(): RuntimePlan {
    return this.#plan;
  }
}
