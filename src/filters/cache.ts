/**
 * The response cache as a request-pipeline filter: one instance per cached
 * route, sharing its proxy thread's ResponseCache (src/cache/).
 *
 * request         GET/HEAD: a fresh entry in memory is answered at once, in the
 *                 same call (no promise, no allocation beyond the response); a
 *                 stale one is served while it is revalidated in the background
 *                 (stale-while-revalidate) or sent to be revalidated; a miss leads
 *                 or joins the URL's coalesced fill, and the leader asks Redis
 *                 (suspending, at most `redis_timeout_secs`) before the upstream.
 *                 Unsafe methods are marked for invalidation.
 * upstreamRequest adds the stored validators to a revalidation.
 * responseHead    a 304 to a revalidation refreshes the entry and serves it; a 5xx
 *                 within stale-if-error serves the stale entry; a storable response
 *                 is copied into the store while it streams to the client (never
 *                 buffered first; abandoned past the size limit); a successful
 *                 unsafe request invalidates its URL (and the same-host Location /
 *                 Content-Location, RFC 9111 4.4).
 * upstreamFailed  no response at all (refused, reset, timed out, no instance):
 *                 stale-if-error.
 * done            releases waiters if a leader ends without an outcome.
 *
 * Placement: after the HTTPS redirect and authentication (nothing is served to a
 * request that must be redirected or refused) and static files, and first among
 * the responseHead filters (before X-Sendfile, compression and HSTS), so that its
 * copy of the body is taken next to the
 * sink, of the bytes the client gets, and its copy of the head (taken when the
 * body starts) is the head the client gets. A hit is answered with `respond`,
 * which runs no responseHead filter: stored compressed bytes are not compressed
 * again.
 *
 * @module
 */
import type { CacheExchange, CacheResponseHead, BodyWriter } from '../cache/cache-exchange.js';
import type { CachedResponse } from '../cache/cached-response.js';
import { primaryKey } from '../cache/cache-key.js';
import { CacheMode, CacheRequest, type WakeHandler } from '../cache/cache-request.js';
import { CACHE_STATUS, forwardStatus, hitStatus } from '../cache/cache-status.js';
import { clock } from '../cache/clock.js';
import { clientCopyIsCurrent, notModifiedHeaders } from '../cache/conditional.js';
import { firstHeader } from '../cache/header-list.js';
import type { InvalidationPattern } from '../cache/invalidation-pattern.js';
import type { FillOutcome } from '../cache/request-coalescer.js';
import { readRequestFacts, RequestHeaderFacts } from '../cache/request-facts.js';
import { addValidators, buildEntry, removeClientValidators, type RevalidationRequest, type RevalidationResponse, type ResponseCache } from '../cache/response-cache.js';
import { decideStorage, type NotStoredReason, type RequestFacts, type StoragePlan } from '../cache/storage-policy.js';
import { Verdict, type Filter } from '../pipeline/filter.js';
import { FilterSlot } from './slots.js';

/** Sends a revalidation upstream in the background (stale-while-revalidate), for the route `x` took. */
export interface BackgroundFetch {
  fetch(x: CacheExchange, request: RevalidationRequest): Promise<RevalidationResponse>;
}

/** Methods that change nothing on the server (RFC 9110 9.2.1): they never invalidate. */
const safeMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Reasons that belong to the response itself: the URL is then not coalesced for a while (hit-for-miss). */
const responseReasons: ReadonlySet<string> = new Set(['status', 'no-store', 'private', 'vary-star', 'set-cookie', 'no-explicit-freshness', 'stale-on-arrival', 'too-large']);

/** One scratch object for the request-header pass: the request hook is synchronous, so it is never shared. */
const scratchFacts = new RequestHeaderFacts();
/** Request facts for requests that never look anything up (unsafe methods). */
const noFacts = new RequestHeaderFacts();

function isServerError(status: number): boolean {
  return status >= 500 && status <= 599;
}

function state(x: CacheExchange): CacheRequest | undefined {
  return x.local<CacheRequest>(FilterSlot.Cache);
}

/** Replaces a response head with a stored entry's (revalidated, or stale-if-error). */
function serveEntryInstead(x: CacheExchange, head: CacheResponseHead, entry: CachedResponse, extra: readonly string[]): void {
  head.status = entry.status;
  head.statusText = entry.statusText;
  head.pairs.length = 0;
  head.pairs.push(...entry.headers, ...extra, 'content-length', String(entry.body.length));
  x.replaceBody(entry.bodySource);
}

export class CacheFilter implements Filter, WakeHandler {
  readonly name = 'cache';
  readonly cache: ResponseCache;
  /** The route's `cache_default_ttl_secs` (or [cache] default_ttl_secs), in ms. */
  readonly defaultTtlMs: number | undefined;
  readonly #background: BackgroundFetch | undefined;

  constructor(cache: ResponseCache, defaultTtlMs: number | undefined, background?: BackgroundFetch) {
    this.cache = cache;
    this.defaultTtlMs = defaultTtlMs;
    this.#background = background;
  }

  // -------------------------------------------------------------------------
  // request

  request(x: CacheExchange): Verdict {
    // A WebSocket upgrade runs the request filters too; it is never answered from the cache.
    if (x.upgradeContext !== undefined) return Verdict.Continue;
    const method = x.method;
    if (method !== 'GET' && method !== 'HEAD') {
      if (safeMethods.has(method)) return Verdict.Continue;
      x.setLocal(FilterSlot.Cache, new CacheRequest(x, CacheMode.Unsafe, '', '', 'method', 0, noFacts, undefined));
      return Verdict.Continue;
    }
    const facts = readRequestFacts(x.upstreamHeaders, scratchFacts);
    const now = clock.now();
    if (facts.bypass !== undefined) {
      const bypass = new CacheRequest(x, CacheMode.Bypass, '', '', 'bypass', now, facts, undefined);
      bypass.detail = facts.bypass;
      x.setLocal(FilterSlot.Cache, bypass);
      return Verdict.Continue;
    }
    const query = this.cache.queryFilter.filter(x.query);
    // Concatenated only when there is a query: the memory tier is keyed by host, then path[?query].
    const target = query === '' ? x.path : `${x.path}?${query}`;
    const memory = this.cache.memory;
    const entry = memory.lookup(x.scheme, x.host, target, x.upstreamHeaders);
    if (entry !== undefined) {
      if (entry.isFresh(now)) return this.#answerHit(x, entry, facts, now, false);
      return this.#useStale(x, entry, undefined, entry.key, facts, now, false);
    }

    // Nothing in memory: lead or join the fill for this URL. The leader asks Redis, then the upstream.
    const key = primaryKey(x.scheme, x.host, x.path, query);
    const miss = new CacheRequest(x, CacheMode.Miss, key, query, memory.has(x.scheme, x.host, target) ? 'vary-miss' : 'uri-miss', now, facts, this);
    x.setLocal(FilterSlot.Cache, miss);
    if (this.#join(miss, now) === Verdict.Suspended) return Verdict.Suspended;
    const shared = this.cache.shared;
    if (shared !== undefined && shared.usable) {
      shared.lookup(key, x.upstreamHeaders).then(
        (found) => this.#afterShared(miss, found),
        () => this.#afterShared(miss, undefined),
      );
      return Verdict.Suspended;
    }
    return this.#proceed(miss);
  }

  /** A Redis lookup finished: answer from it, or go on to the upstream. */
  #afterShared(own: CacheRequest, found: CachedResponse | undefined): void {
    const x = own.exchange;
    if (state(x) !== own) return; // the request ended meanwhile
    const now = clock.now();
    if (found !== undefined) {
      this.cache.memory.insert(found);
      const facts = readRequestFacts(x.upstreamHeaders, scratchFacts);
      if (found.isFresh(now)) {
        this.#completeFill(own, 'stored', now);
        x.setLocal(FilterSlot.Cache, undefined);
        this.#answerHit(x, found, facts, now, true);
        return;
      }
      if (this.#useStale(x, found, own, own.key, facts, now, true) === Verdict.Continue) x.resume();
      return;
    }
    if (this.#proceed(own) === Verdict.Continue) x.resume();
  }

  /**
   * A stored entry that is not fresh: serve it stale, or revalidate / refresh
   * it. `own` is the request's state when it already leads the URL's fill.
   */
  #useStale(x: CacheExchange, entry: CachedResponse, own: CacheRequest | undefined, key: string, facts: RequestHeaderFacts, now: number, fromRedis: boolean): Verdict {
    if (now < entry.swrUntilMs && !entry.revalidateAlways) {
      this.cache.stats.staleHits++;
      this.#revalidateInBackground(x, entry);
      if (own !== undefined) {
        this.#completeFill(own, 'stored', now);
        x.setLocal(FilterSlot.Cache, undefined);
      }
      return this.#answerHit(x, entry, facts, now, fromRedis);
    }
    const usable = entry.hasValidator || now < entry.sieUntilMs;
    // Neither revalidatable nor good for errors: it is dead weight.
    if (!usable) this.cache.memory.remove(entry);
    const next = own ?? new CacheRequest(x, CacheMode.Miss, key, entry.query, 'stale', now, facts, this);
    next.mode = entry.hasValidator ? CacheMode.Revalidate : CacheMode.Refresh;
    if (usable) {
      next.entry = entry;
      next.fwd = 'stale';
    }
    x.setLocal(FilterSlot.Cache, next);
    if (own === undefined && this.#join(next, now) === Verdict.Suspended) return Verdict.Suspended;
    return this.#proceed(next);
  }

  #revalidateInBackground(x: CacheExchange, entry: CachedResponse): void {
    const background = this.#background;
    if (background === undefined) return;
    this.cache.revalidateInBackground(entry, x.upstreamHeaders, (request) => background.fetch(x, request), this.defaultTtlMs);
  }

  /** Leads or joins the coalesced fill for the URL: Suspended when it waits for another request. */
  #join(own: CacheRequest, now: number): Verdict {
    this.cache.stats.misses++;
    // A HEAD's response is never stored, so it neither leads nor waits.
    if (own.exchange.method === 'HEAD') return Verdict.Continue;
    const joined = this.cache.coalescer.join(own.key, own, now);
    if (joined === 'waiting') return Verdict.Suspended;
    if (joined !== 'uncoalesced') own.fill = joined;
    return Verdict.Continue;
  }

  /** On to the upstream, unless the client asked for the cache only. */
  #proceed(own: CacheRequest): Verdict {
    return own.onlyIfCached ? this.#gatewayTimeout(own.exchange) : Verdict.Continue;
  }

  /** A waiter's leader finished (called by CacheRequest.wake). */
  wake(own: CacheRequest, outcome: FillOutcome): void {
    // Out of the leader's call stack: its writer chain is still running.
    queueMicrotask(() => this.#woken(own, outcome));
  }

  #woken(own: CacheRequest, outcome: FillOutcome): void {
    const x = own.exchange;
    if (state(x) !== own) return; // the request ended meanwhile
    if (outcome === 'stored') {
      const now = clock.now();
      const entry = this.cache.memory.lookupKey(own.key, x.upstreamHeaders);
      // Fresh, or stale but being revalidated in the background (stale-while-revalidate).
      if (entry !== undefined && (entry.isFresh(now) || (now < entry.swrUntilMs && !entry.revalidateAlways))) {
        this.cache.stats.collapsed++;
        x.setLocal(FilterSlot.Cache, undefined);
        this.#answerHit(x, entry, readRequestFacts(x.upstreamHeaders, scratchFacts), now, false, true);
        return;
      }
    }
    // Not usable for this request: it goes upstream itself, leading nothing.
    if (this.#proceed(own) === Verdict.Continue) x.resume();
  }

  /** Answers from `entry`: 304 when the client's own validators match, else the stored response. */
  #answerHit(x: CacheExchange, entry: CachedResponse, facts: RequestHeaderFacts, now: number, fromRedis: boolean, collapsed = false): Verdict {
    const stats = this.cache.stats;
    stats.hits++;
    if (fromRedis) stats.redisHits++;
    if ((facts.ifNoneMatch !== undefined || facts.ifModifiedSince !== undefined) && clientCopyIsCurrent(entry, facts.ifNoneMatch, facts.ifModifiedSince)) {
      const ttl = entry.ttlSeconds(now);
      const status = collapsed ? forwardStatus({ fwd: 'uri-miss', collapsed: true, ttlSeconds: ttl }) : hitStatus(ttl, fromRedis);
      x.respond(304, [...notModifiedHeaders(entry.headers), 'Age', String(entry.ageSeconds(now)), CACHE_STATUS, status], '');
    } else if (collapsed) {
      const status = forwardStatus({ fwd: 'uri-miss', collapsed: true, ttlSeconds: entry.ttlSeconds(now) });
      x.respond(entry.status, [...entry.headers, 'Age', String(entry.ageSeconds(now)), CACHE_STATUS, status], entry.body, entry.statusText);
    } else {
      x.respond(entry.status, entry.hitHeaders(now, fromRedis), entry.body, entry.statusText);
    }
    return Verdict.Answered;
  }

  /** only-if-cached with nothing usable (RFC 9111 5.2.1.7). */
  #gatewayTimeout(x: CacheExchange): Verdict {
    const own = state(x);
    if (own !== undefined) this.#completeFill(own, 'failed', clock.now());
    x.setLocal(FilterSlot.Cache, undefined);
    x.respond(504, [CACHE_STATUS, forwardStatus({ fwd: 'request', detail: 'only-if-cached' })], '');
    return Verdict.Answered;
  }

  // -------------------------------------------------------------------------
  // upstreamRequest

  upstreamRequest(x: CacheExchange, headers: string[]): void {
    const own = state(x);
    if (own === undefined) return;
    if (own.mode === CacheMode.Revalidate && own.entry !== undefined) {
      // The cache asks with its own validators; the client's are answered by the cache afterwards.
      removeClientValidators(headers);
      addValidators(headers, own.entry);
    } else if (own.mode === CacheMode.Miss && own.fill !== undefined) {
      // The request that fills the cache asks for the whole response: a 304 to a browser's own
      // If-None-Match would leave nothing to store, and its next visit would miss again.
      removeClientValidators(headers);
    }
  }

  // -------------------------------------------------------------------------
  // responseHead

  responseHead(x: CacheExchange, head: CacheResponseHead): void {
    const own = state(x);
    if (own === undefined) return;
    const now = clock.now();
    switch (own.mode) {
      case CacheMode.Unsafe:
        if (head.status >= 200 && head.status < 400) this.#invalidateAfterUnsafe(x, head);
        head.pairs.push(CACHE_STATUS, forwardStatus({ fwd: 'method', fwdStatus: head.status }));
        return;
      case CacheMode.Bypass:
        head.pairs.push(CACHE_STATUS, forwardStatus({ fwd: 'bypass', fwdStatus: head.status, detail: own.detail }));
        return;
    }
    const entry = own.entry;
    if (entry !== undefined) {
      if (head.status === 304 && own.mode === CacheMode.Revalidate && this.#revalidated(x, head, own, entry, now)) return;
      if (isServerError(head.status) && now < entry.sieUntilMs) {
        this.cache.stats.servedOnError++;
        this.#completeFill(own, 'failed', now);
        serveEntryInstead(x, head, entry, ['Age', String(entry.ageSeconds(now)), CACHE_STATUS, forwardStatus({ fwd: 'stale', fwdStatus: head.status, ttlSeconds: entry.ttlSeconds(now) })]);
        x.setLocal(FilterSlot.Cache, undefined);
        return;
      }
    }
    this.#considerStoring(x, head, own, now);
  }

  /** The upstream confirmed the stored entry: refresh it and answer from it. */
  #revalidated(x: CacheExchange, head: CacheResponseHead, own: CacheRequest, entry: CachedResponse, now: number): boolean {
    const freshened = this.cache.freshen(entry, head.pairs, this.#requestFacts(x, own), own.requestTimeMs, now, this.defaultTtlMs);
    if (freshened === undefined) {
      // The 304 is about another representation: this entry is no longer trustworthy.
      this.cache.memory.remove(entry);
      this.#completeFill(own, 'failed', now);
      return false;
    }
    const updated = freshened.entry;
    if (freshened.keep) {
      this.cache.stats.revalidated++;
      this.cache.store(updated);
    } else this.cache.memory.remove(entry);
    this.#completeFill(own, freshened.keep ? 'stored' : 'not-stored', now);
    const extra = ['Age', String(updated.ageSeconds(now)), CACHE_STATUS, forwardStatus({ fwd: 'stale', fwdStatus: 304, ttlSeconds: updated.ttlSeconds(now), stored: freshened.keep })];
    if ((own.ifNoneMatch !== undefined || own.ifModifiedSince !== undefined) && clientCopyIsCurrent(updated, own.ifNoneMatch, own.ifModifiedSince)) {
      // The client's own copy is current too: the upstream's 304 (no body) goes on, with the stored metadata.
      head.pairs.length = 0;
      head.pairs.push(...notModifiedHeaders(updated.headers), ...extra);
    } else serveEntryInstead(x, head, updated, extra);
    x.setLocal(FilterSlot.Cache, undefined);
    return true;
  }

  /** A full response: store a copy while it streams, if the rules allow. */
  #considerStoring(x: CacheExchange, head: CacheResponseHead, own: CacheRequest, now: number): void {
    const decision = decideStorage(this.#requestFacts(x, own), head.status, head.pairs, own.requestTimeMs, now, this.defaultTtlMs);
    const fwd = { fwd: own.fwd, fwdStatus: head.status, collapsed: own.collapsed };
    let reason: NotStoredReason | 'request' | undefined = decision.storable ? undefined : decision.reason;
    if (decision.storable && head.contentLength > this.cache.memory.maxObjectBytes) reason = 'too-large';
    // A 304 passed on to a client's own conditional request says nothing about the URL.
    if (reason === 'status' && head.status === 304) reason = 'request';
    if (reason !== undefined) {
      const aboutTheResponse = responseReasons.has(reason);
      // The stored entry (if any) is outdated by this response, which cannot replace it.
      if (own.entry !== undefined && aboutTheResponse) this.cache.memory.remove(own.entry);
      if (aboutTheResponse) {
        if (own.fill !== undefined) this.#completeFill(own, 'not-stored', now);
        else this.cache.coalescer.markHitForMiss(own.key, now);
      } else this.#completeFill(own, 'failed', now);
      head.pairs.push(CACHE_STATUS, forwardStatus({ ...fwd, detail: reason }));
      return;
    }
    const storing = new StoringWriter(this, own, head, head.contentLength);
    x.transformBody((next) => storing.attach(next));
    // `stored` is promised only when the length is known to fit; a chunked body may still turn out too large.
    head.pairs.push(CACHE_STATUS, forwardStatus({ ...fwd, stored: head.contentLength >= 0 }));
  }

  /**
   * Called by StoringWriter once the body is complete (`body`) or abandoned
   * (undefined). `head` is the response head as it went to the client.
   */
  finishStoring(own: CacheRequest, head: CacheResponseHead, body: Buffer | undefined): void {
    const now = clock.now();
    if (body === undefined) {
      this.#completeFill(own, 'failed', now);
      return;
    }
    const x = own.exchange;
    // Decided again on the head as the client got it: filters after this one may have changed it.
    const headers = withoutCacheStatus(head.pairs);
    const decision = decideStorage(this.#requestFacts(x, own), head.status, headers, own.requestTimeMs, now, this.defaultTtlMs);
    if (!decision.storable) {
      this.#completeFill(own, 'not-stored', now);
      return;
    }
    const entry = buildEntry({ key: own.key, host: x.host, path: x.path, query: own.keyQuery }, decision, own.requestHeaders, head.status, head.statusText, headers, body, now);
    const stored = this.cache.store(entry);
    this.#completeFill(own, stored ? 'stored' : 'not-stored', now);
  }

  #requestFacts(x: CacheExchange, own: CacheRequest): RequestFacts {
    return { method: x.method === 'HEAD' ? 'HEAD' : 'GET', hasAuthorization: own.hasAuthorization, noStore: own.noStore };
  }

  #completeFill(own: CacheRequest, outcome: 'stored' | 'not-stored' | 'failed', now: number): void {
    const fill = own.fill;
    if (fill === undefined) return;
    own.fill = undefined;
    this.cache.coalescer.complete(fill, outcome, now);
  }

  /** RFC 9111 4.4: the target URI, and same-host Location / Content-Location. */
  #invalidateAfterUnsafe(x: CacheExchange, head: CacheResponseHead): void {
    const patterns: InvalidationPattern[] = [{ kind: 'path', host: x.host, path: x.path, query: this.cache.queryFilter.filter(x.query) }];
    for (const name of ['location', 'content-location']) {
      const value = firstHeader(head.pairs, name);
      if (value === undefined) continue;
      let url: URL;
      try {
        url = new URL(value, `${x.scheme}://${x.host}${x.path}`);
      } catch {
        continue;
      }
      if (url.hostname.toLowerCase() !== x.host) continue;
      patterns.push({ kind: 'path', host: x.host, path: url.pathname, query: this.cache.queryFilter.filter(url.search.slice(1)) });
    }
    this.cache.invalidate(patterns, 'local');
  }

  // -------------------------------------------------------------------------
  // upstreamFailed, done

  /**
   * The upstream gave no response (connection refused or reset, timeout, no
   * instance): true when a stale entry was served instead (stale-if-error).
   */
  upstreamFailed(x: CacheExchange, error: { readonly status: number }): boolean {
    const own = state(x);
    if (own === undefined) return false;
    const now = clock.now();
    this.#completeFill(own, 'failed', now);
    const entry = own.entry;
    if (entry === undefined || now >= entry.sieUntilMs) return false;
    this.cache.stats.servedOnError++;
    x.setLocal(FilterSlot.Cache, undefined);
    const status = forwardStatus({ fwd: 'stale', fwdStatus: error.status, ttlSeconds: entry.ttlSeconds(now) });
    x.respond(entry.status, [...entry.headers, 'Age', String(entry.ageSeconds(now)), CACHE_STATUS, status], entry.body, entry.statusText);
    return true;
  }

  done(x: CacheExchange): void {
    const own = state(x);
    if (own === undefined) return;
    x.setLocal(FilterSlot.Cache, undefined);
    this.#completeFill(own, 'failed', clock.now());
  }
}

/** The head's lines without the Cache-Status this filter added (it describes one request, not the entry). */
function withoutCacheStatus(pairs: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] !== CACHE_STATUS) out.push(pairs[i]!, pairs[i + 1]!);
  return out;
}

/**
 * Copies a response body into a Buffer while passing every chunk on to the
 * client unchanged, with the client's backpressure. With a Content-Length the
 * copy goes into one buffer of exactly that size; without, into chunks joined
 * at the end. Past the memory tier's object limit the copy is dropped and the
 * client's response goes on.
 */
export class StoringWriter implements BodyWriter {
  onDrain: (() => void) | undefined = undefined;
  readonly #filter: CacheFilter;
  readonly #state: CacheRequest;
  readonly #head: CacheResponseHead;
  readonly #limit: number;
  #next: BodyWriter | undefined = undefined;
  /** Exactly sized when the length is known. */
  #buffer: Buffer | undefined;
  #chunks: Buffer[] | undefined;
  #length = 0;
  #storing = true;

  constructor(filter: CacheFilter, own: CacheRequest, head: CacheResponseHead, contentLength: number) {
    this.#filter = filter;
    this.#state = own;
    this.#head = head;
    this.#limit = filter.cache.memory.maxObjectBytes;
    if (contentLength >= 0) this.#buffer = Buffer.allocUnsafeSlow(contentLength);
    else this.#chunks = [];
  }

  attach(next: BodyWriter): BodyWriter {
    this.#next = next;
    next.onDrain = () => this.onDrain?.();
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.#storing) this.#copy(chunk);
    return this.#next!.write(chunk);
  }

  end(): void {
    if (this.#storing) {
      this.#storing = false;
      let body: Buffer | undefined;
      if (this.#buffer !== undefined) body = this.#length === this.#buffer.length ? this.#buffer : undefined;
      else body = Buffer.concat(this.#chunks!, this.#length);
      this.#buffer = undefined;
      this.#chunks = undefined;
      this.#filter.finishStoring(this.#state, this.#head, body);
    }
    this.#next!.end();
  }

  abort(): void {
    this.#abandon();
    this.#next!.abort();
  }

  #copy(chunk: Buffer): void {
    const buffer = this.#buffer;
    if (buffer !== undefined) {
      if (this.#length + chunk.length > buffer.length) return this.#abandon();
      chunk.copy(buffer, this.#length);
    } else {
      if (this.#length + chunk.length > this.#limit) return this.#abandon();
      // The source may reuse its chunk's memory: keep a copy.
      this.#chunks!.push(Buffer.from(chunk));
    }
    this.#length += chunk.length;
  }

  #abandon(): void {
    if (!this.#storing) return;
    this.#storing = false;
    this.#buffer = undefined;
    this.#chunks = undefined;
    this.#filter.finishStoring(this.#state, this.#head, undefined);
  }
}
