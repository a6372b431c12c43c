/**
 * A route as the pipeline uses it: the config's RouteSpec joined to its live
 * Upstream and its compiled filter chain, with everything a request needs
 * precomputed (timeouts, how to rewrite the path).
 *
 * @module
 */
import type { RouteMatch, RouteSpec, UpstreamSpec } from '../config/types.js';
import type { Upstream } from '../upstream/index.js';
import type { FilterChain } from './filter.js';

export class ProxyRoute {
  readonly index: number;
  readonly match: RouteMatch;
  readonly spec: RouteSpec;
  /**
   * Undefined on a files-only route (`static_root` without upstream), whose static
   * files filter answers every request itself.
   */
  readonly upstream: Upstream | undefined;
  readonly readTimeoutMs: number;
  /**
   * Index into `Instance.dispatchers`: a connect timeout belongs to a connection, so a
   * route overriding it gets pools of its own (slot 0 is the upstream's default).
   */
  readonly connectSlot: number;
  readonly requestTimeoutMs: number | undefined;
  /** The route's filters, sorted by hook (auth, forwarded headers, add_headers, logging...). */
  readonly filters: FilterChain;
  /** The path prefix `strip_prefix`/`rewrite` replace, or undefined when the path is forwarded as is. */
  readonly #replacedPrefix: string | undefined;
  readonly #replacement: string;
  readonly #rewriteWholePath: boolean;

  constructor(spec: RouteSpec, upstream: Upstream | undefined, upstreamSpec: UpstreamSpec | undefined, filters: FilterChain) {
    this.index = spec.index;
    this.match = spec.match;
    this.spec = spec;
    this.upstream = upstream;
    this.readTimeoutMs = spec.readTimeoutMs ?? upstreamSpec?.readTimeoutMs ?? 0;
    this.connectSlot = upstream?.connectSlot(spec.connectTimeoutMs) ?? 0;
    this.requestTimeoutMs = spec.requestTimeoutMs;
    this.filters = filters;
    const prefix = spec.match.pathPrefix ?? spec.match.pathExact;
    this.#rewriteWholePath = spec.match.pathPrefix === undefined && spec.match.pathExact !== undefined;
    if (spec.rewrite !== undefined) {
      this.#replacedPrefix = prefix;
      this.#replacement = spec.rewrite;
    } else if (spec.stripPrefix) {
      // "/" has nothing to strip; a trailing "/" in the prefix is kept in the result.
      this.#replacedPrefix = prefix === '/' ? undefined : prefix?.endsWith('/') ? prefix.slice(0, -1) : prefix;
      this.#replacement = '';
    } else {
      this.#replacedPrefix = undefined;
      this.#replacement = '';
    }
  }

  /**
   * The path sent upstream: `/sidekiq/jobs` -> `/jobs` with strip_prefix,
   * `/old-api/users` -> `/new-api/users` with rewrite; never empty.
   */
  upstreamPath(path: string): string {
    const prefix = this.#replacedPrefix;
    if (prefix === undefined) return path;
    if (this.#rewriteWholePath) return this.#replacement;
    const rest = path.length > prefix.length ? path.slice(prefix.length) : '';
    const joined = this.#replacement.endsWith('/') && rest.startsWith('/') ? this.#replacement + rest.slice(1) : this.#replacement + rest;
    return joined === '' ? '/' : joined.charCodeAt(0) === 47 ? joined : '/' + joined;
  }
}
