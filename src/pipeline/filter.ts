/**
 * Filters: the concerns a request passes through between routing and the
 * upstream, and between the upstream's answer and the client. Each is a small
 * object implementing only the hooks it needs (Pingora's `ProxyHttp` phases,
 * Envoy's HTTP filters, Caddy's handler chain):
 *
 *   request          may answer the request itself (401, a redirect, a cached
 *                    entry, a file), or suspend for async work and resume later
 *   upstreamRequest  edits the headers sent upstream
 *   responseHead     edits the response head; may replace the body with another
 *                    source (X-Sendfile) or wrap it in a transform (compression)
 *   upstreamFailed   the upstream gave no response (refused, reset, timed out, no
 *                    instance): may answer instead of warpdrive's error (a stale
 *                    cached entry, stale-if-error)
 *   done             runs once when the exchange ends, whatever happened
 *
 * Chains are compiled once per route (`compileFilterChain`): per hook, the array
 * of filters that implement it, or undefined. A route whose filters have no
 * `responseHead` pays one `undefined` check on the response path, not a loop.
 *
 * @module
 */
import type { ProxyError } from './errors.js';
import type { Exchange } from './exchange.js';
import type { ResponseHead } from './response-head.js';

/** What a request filter decided. */
export const enum Verdict {
  /** Go on to the next filter, then to the upstream. */
  Continue = 0,
  /** The filter answered (`x.respond` / `x.serve` / `x.fail`): no upstream. */
  Answered = 1,
  /**
   * The filter started async work; it will call `x.resume()` (continue with the next
   * filter) or answer. Until then the request waits.
   */
  Suspended = 2,
}

export interface Filter {
  /** Shown by `warpdrive check` and in errors. */
  readonly name: string;
  request?(x: Exchange): Verdict;
  /** `headers` is the flat [name, value, ...] list sent upstream, names lowercase. */
  upstreamRequest?(x: Exchange, headers: string[]): void;
  responseHead?(x: Exchange, head: ResponseHead): void;
  /** No upstream response came (before any byte was sent): true when the filter answered instead. */
  upstreamFailed?(x: Exchange, error: ProxyError): boolean;
  done?(x: Exchange): void;
}

/** A route's filters, sorted by hook at build time. Every field is undefined when no filter has the hook. */
export interface FilterChain {
  readonly all: readonly Filter[];
  readonly request: readonly Filter[] | undefined;
  readonly upstreamRequest: readonly Filter[] | undefined;
  readonly responseHead: readonly Filter[] | undefined;
  readonly upstreamFailed: readonly Filter[] | undefined;
  readonly done: readonly Filter[] | undefined;
}

function withHook(filters: readonly Filter[], hook: keyof Filter): readonly Filter[] | undefined {
  const chosen = filters.filter((f) => typeof f[hook] === 'function');
  return chosen.length === 0 ? undefined : Object.freeze(chosen);
}

/** Sorts `filters` (in order) by the hooks they implement. */
export function compileFilterChain(filters: readonly Filter[]): FilterChain {
  return Object.freeze({
    all: Object.freeze([...filters]),
    request: withHook(filters, 'request'),
    upstreamRequest: withHook(filters, 'upstreamRequest'),
    responseHead: withHook(filters, 'responseHead'),
    upstreamFailed: withHook(filters, 'upstreamFailed'),
    done: withHook(filters, 'done'),
  });
}
