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
import { ThreadCache } from '../cache/thread-cache.js';
import { AccessLogFilter } from './access-log.js';
import { AdminAuthFilter } from './admin-auth.js';
import { CacheFilter } from './cache.js';
import { RouteBackgroundFetch } from './cache-background-fetch.js';
import { PurgeEndpoint } from './cache-purge.js';
import { ForwardedHeadersFilter } from './forwarded-headers.js';
import { RouteHeadersFilter } from './route-headers.js';
import { TrustedProxies } from './trusted-proxies.js';

const log = createLogger('proxy');

/**
 * What a proxy thread keeps across generations for its filters: the access-log
 * writer to stdout (created when a generation first asks for it), and the
 * response cache (created with the thread when `[cache]` is configured; its
 * section changes only with a restart).
 */
export class ThreadServices {
  readonly thread: number;
  readonly cache: ThreadCache | undefined;
  readonly cacheFetch = new RouteBackgroundFetch();
  #accessLog: LogSink | undefined;

  constructor(thread: number, plan?: RuntimePlan) {
    this.thread = thread;
    this.cache = plan?.cache === undefined ? undefined : new ThreadCache(plan.cache, thread, plan.server.workerThreads);
  }

  get accessLog(): LogSink {
    this.#accessLog ??= new LogSink({ fd: 1, onDropped: (count) => log.warn(`${count} access-log lines dropped: stdout could not keep up`) });
    return this.#accessLog;
  }

  /** Resolves when every access-log line so far is written. */
  flush(): Promise<void> {
    return this.#accessLog?.flush() ?? Promise.resolve();
  }

  /** Closes what outlives generations (the cache's Redis connection). */
  async close(): Promise<void> {
    await this.cache?.close();
  }
}

/** The filters of one generation, shared by its routes where they are the same object. */
export class GenerationFilters {
  readonly trusted: TrustedProxies;
  readonly #plan: RuntimePlan;
  readonly #forwarded: ForwardedHeadersFilter | undefined;
  readonly #auth: AdminAuthFilter | undefined;
  readonly #accessLog: AccessLogFilter | undefined;
  readonly #services: ThreadServices;

  constructor(plan: RuntimePlan, services: ThreadServices) {
    this.#plan = plan;
    this.#services = services;
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
    // After auth (a refused request is never answered from the cache); first of the
    // responseHead filters, so it stores the head and bytes the client gets.
    const cache = this.#services.cache;
    if (cache !== undefined && spec.cache !== undefined) filters.push(new CacheFilter(cache.cache, spec.cache.defaultTtlMs, this.#services.cacheFetch));
    if (this.#forwarded) filters.push(this.#forwarded);
    if (spec.addHeaders.length > 0) filters.push(new RouteHeadersFilter(spec.addHeaders));
    if (this.#accessLog) filters.push(this.#accessLog);
    return compileFilterChain(filters);
  }

  /** `POST /.warpdrive/purge`, when the cache is on and an admin token is set. */
  purgeEndpoint(): PurgeEndpoint | undefined {
    const cache = this.#services.cache;
    const token = this.#plan.middleware.adminToken;
    return cache === undefined || token === undefined ? undefined : new PurgeEndpoint(cache.cache, token, this.#plan.postgres);
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
