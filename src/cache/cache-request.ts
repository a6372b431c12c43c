/**
 * The cache's state for one request that goes upstream (a hit answered from
 * memory never gets one): what it was looking for, what it found, and what it
 * must do with the upstream's answer.
 *
 * @module
 */
import type { CachedResponse } from './cached-response.js';
import type { CacheExchange } from './cache-exchange.js';
import type { Forward } from './cache-status.js';
import type { Fill, FillOutcome, FillWaiter } from './request-coalescer.js';

export const enum CacheMode {
  /** Nothing usable stored: the response may be stored. */
  Miss,
  /** A stale entry with validators: ask the upstream with If-None-Match / If-Modified-Since. */
  Revalidate,
  /** A stale entry without validators: fetch anew, but keep it for stale-if-error. */
  Refresh,
  /** Not for the cache (Range, If-Match...): passed on untouched, nothing stored. */
  Bypass,
  /** An unsafe method: on success, the URL is invalidated. */
  Unsafe,
}

/** What the filter does when a waiter wakes (kept off the request object so it has one shape). */
export interface WakeHandler {
  wake(request: CacheRequest, outcome: FillOutcome): void;
}

export class CacheRequest implements FillWaiter {
  readonly exchange: CacheExchange;
  mode: CacheMode;
  /** The primary key (URL); '' for unsafe/bypass requests that never look up. */
  readonly key: string;
  /** The query as it counts in the key (ignored parameters removed). */
  readonly keyQuery: string;
  /** The stale entry being revalidated or refreshed. */
  entry: CachedResponse | undefined = undefined;
  /** Set while this request leads a coalesced fill; cleared once its outcome is reported. */
  fill: Fill | undefined = undefined;
  /** Woke up from someone else's fill (Cache-Status `collapsed`). */
  collapsed = false;
  fwd: Forward;
  detail: string | undefined = undefined;
  readonly requestTimeMs: number;
  // From the client's request headers, needed once the upstream has answered.
  readonly ifNoneMatch: string | undefined;
  readonly ifModifiedSince: string | undefined;
  readonly hasAuthorization: boolean;
  readonly noStore: boolean;
  readonly onlyIfCached: boolean;
  /**
   * The client's request headers as they were when the cache looked (before
   * upstreamRequest filters add forwarded headers): what Vary is matched against.
   */
  readonly requestHeaders: readonly string[];
  readonly #onWake: WakeHandler | undefined;

  constructor(
    exchange: CacheExchange,
    mode: CacheMode,
    key: string,
    keyQuery: string,
    fwd: Forward,
    requestTimeMs: number,
    facts: {
      readonly ifNoneMatch: string | undefined;
      readonly ifModifiedSince: string | undefined;
      readonly hasAuthorization: boolean;
      readonly noStore: boolean;
      readonly onlyIfCached: boolean;
    },
    onWake: WakeHandler | undefined,
  ) {
    this.exchange = exchange;
    this.mode = mode;
    this.key = key;
    this.keyQuery = keyQuery;
    this.fwd = fwd;
    this.requestTimeMs = requestTimeMs;
    this.ifNoneMatch = facts.ifNoneMatch;
    this.ifModifiedSince = facts.ifModifiedSince;
    this.hasAuthorization = facts.hasAuthorization;
    this.noStore = facts.noStore;
    this.onlyIfCached = facts.onlyIfCached;
    // Only requests that may store a response need the copy.
    this.requestHeaders = mode === CacheMode.Miss ? [...exchange.upstreamHeaders] : [];
    this.#onWake = onWake;
  }

  wake(outcome: FillOutcome): void {
    this.collapsed = true;
    this.#onWake?.wake(this, outcome);
  }
}
