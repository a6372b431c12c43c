/**
 * The response cache as a request-pipeline filter: one instance per cached
 * route, sharing its thread's ResponseCache.
 *
 * request         GET/HEAD: a fresh entry in memory is answered at once, without
 *                 a promise or an allocation beyond the response; a stale one is
 *                 served while revalidating (stale-while-revalidate) or sent to
 *                 be revalidated; a miss asks Redis (the request suspends, at
 *                 most `redis_timeout_secs`), then joins or leads a coalesced
 *                 fill. Unsafe methods are marked for invalidation.
 * upstreamRequest adds the stored validators to a revalidation.
 * responseHead    a 304 to a revalidation refreshes the entry and serves it; a
 *                 5xx within stale-if-error serves the stale entry; a storable
 *                 response is copied into the store while it streams to the
 *                 client (never buffered first; abandoned past the size limit);
 *                 a successful unsafe request invalidates its URL (and the
 *                 same-host Location/Content-Location, RFC 9111 4.4).
 * upstreamFailed  no response at all (refused, timed out): stale-if-error.
 * done            releases waiters if the leader ends without an outcome.
 *
 * @module
 */
import { clock } from './clock.js';
import { BufferSource } from './buffer-source.js';
import type { BodyWriter, CacheExchange, CacheResponseHead } from './cache-exchange.js';
import type { CachedResponse } from './cached-response.js';
import { CacheMode, CacheRequest, type WakeHandler } from './cache-request.js';
import { primaryKey } from './cache-key.js';
import { CACHE_STATUS, forwardStatus } from './cache-status.js';
import { clientCopyIsCurrent, notModifiedHeaders } from './conditional.js';
import { firstHeader } from './header-list.js';
import type { InvalidationPattern } from './invalidation-pattern.js';
import type { FillOutcome } from './request-coalescer.js';
import { readRequestFacts, RequestHeaderFacts } from './request-facts.js';
import { addValidators, buildEntry, removeClientValidators, type ResponseCache } from './response-cache.js';
import { decideStorage, type NotStoredReason, type RequestFacts, type StoragePlan } from './storage-policy.js';

/** What a request hook decided (the pipeline's Verdict, same values). */
export const enum CacheVerdict {
  Continue = 0,
  Answered = 1,
  Suspended = 2,
}

/** Methods that change nothing on the server (RFC 9110 9.2.1): they never invalidate. */
const safeMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Reasons that belong to the response itself: the URL is then not coalesced for a while (hit-for-miss). */
const responseReasons: ReadonlySet<NotStoredReason> = new Set(['status', 'no-store', 'private', 'vary-star', 'set-cookie', 'no-explicit-freshness', 'stale-on-arrival', 'too-large']);

/** One scratch object for the request-header pass: the request hook is synchronous, so it is never shared. */
const scratchFacts = new RequestHeaderFacts();

const NO_HEADERS: readonly string[] = [];
/** Request facts for requests that never look anything up (unsafe methods). */
const noFacts = new RequestHeaderFacts();
const EMPTY_BODY = new BufferSource(Buffer.alloc(0));

function isServerError(status: number): boolean {
  return status >= 500 && status <= 599;
}

export class CacheFilter implements WakeHandler {
  readonly name = 'cache';
  readonly cache: ResponseCache;
  /** The route's `cache_default_ttl_secs` (or [cache] default_ttl_secs), in ms. */
  readonly defaultTtlMs: number | undefined;

  constructor(cache: ResponseCache, defaultTtlMs: number | undefined) {
    this.cache = cache;
    this.defaultTtlMs = defaultTtlMs;
  }

  // -------------------------------------------------------------------------
  // request

  request(x: CacheExchange): CacheVerdict {
    const method = x.method;
    if (method !== 'GET' && method !== 'HEAD') {
      if (safeMethods.has(method)) return CacheVerdict.Continue;
      x.cache = new CacheRequest(x, CacheMode.Unsafe, '', '', 'method', 0, noFacts, undefined);
      return CacheVerdict.Continue;
    }
    const facts = readRequestFacts(x.requestHeaders, scratchFacts);
    const now = clock.now();
    if (facts.bypass !== undefined) {
      const state = new CacheRequest(x, CacheMode.Bypass, '', '', 'bypass', now, facts, undefined);
      state.detail = facts.bypass;
      x.cache = state;
      return CacheVerdict.Continue;
    }
    const query = this.cache.queryFilter.filter(x.query);
    // Concatenated only when there is a query: the memory tier is keyed by host, then path[?query].
    const target = query === '' ? x.path : `${x.path}?${query}`;
    const memory = this.cache.memory;
    const entry = memory.lookup(x.scheme, x.host, target, x.requestHeaders);
    if (entry !== undefined) {
      if (entry.isFresh(now)) return this.#answerHit(x, entry, facts, now, false);
      return this.#useStale(x, entry, undefined, entry.key, facts, now, false);
    }

    // Nothing in memory: lead or join the fill for this URL. The leader asks Redis, then the upstream.
    const key = primaryKey(x.scheme, x.host, x.path, query);
    const state = new CacheRequest(x, CacheMode.Miss, key, query, memory.has(x.scheme, x.host, target) ? 'vary-miss' : 'uri-miss', now, facts, this);
    x.cache = state;
    if (this.#join(state, now) === CacheVerdict.Suspended) return CacheVerdict.Suspended;
    const shared = this.cache.shared;
    if (shared !== undefined && shared.usable) {
      shared.lookup(key, x.requestHeaders).then(
        (found) => this.#afterShared(state, found),
        () => this.#afterShared(state, undefined),
      );
      return CacheVerdict.Suspended;
    }
    return this.#proceed(state);
  }

  /** A Redis lookup finished: answer from it, or go on to the upstream. */
  #afterShared(state: CacheRequest, found: CachedResponse | undefined): void {
    const x = state.exchange;
    if (x.cache !== state) return; // the request ended meanwhile
    const now = clock.now();
    if (found !== undefined) {
      this.cache.memory.insert(found);
      const facts = readRequestFacts(x.requestHeaders, scratchFacts);
      if (found.isFresh(now)) {
        this.#completeFill(state, 'stored', now);
        x.cache = undefined;
        this.#answerHit(x, found, facts, now, true);
        return;
      }
      if (this.#useStale(x, found, state, state.key, facts, now, true) === CacheVerdict.Continue) x.resume();
      return;
    }
    if (this.#proceed(state) === CacheVerdict.Continue) x.resume();
  }

  /**
   * A stored entry that is not fresh: serve it stale, or revalidate / refresh
   * it. `state` is the request's own when it already leads the URL's fill.
   */
  #useStale(x: CacheExchange, entry: CachedResponse, state: CacheRequest | undefined, key: string, facts: RequestHeaderFacts, now: number, fromRedis: boolean): CacheVerdict {
    if (now < entry.swrUntilMs && !entry.revalidateAlways) {
      this.cache.stats.staleHits++;
      this.cache.revalidateInBackground(entry, x.scheme, x.requestHeaders, this.defaultTtlMs);
      if (state !== undefined) {
        this.#completeFill(state, 'stored', now);
        x.cache = undefined;
      }
      return this.#answerHit(x, entry, facts, now, fromRedis);
    }
    const usable = entry.hasValidator || now < entry.sieUntilMs;
    // Neither revalidatable nor good for errors: it is dead weight.
    if (!usable) this.cache.memory.remove(entry);
    const own = state ?? new CacheRequest(x, CacheMode.Miss, key, entry.query, 'stale', now, facts, this);
    own.mode = entry.hasValidator ? CacheMode.Revalidate : CacheMode.Refresh;
    if (usable) {
      own.entry = entry;
      own.fwd = 'stale';
    }
    x.cache = own;
    if (state === undefined && this.#join(own, now) === CacheVerdict.Suspended) return CacheVerdict.Suspended;
    return this.#proceed(own);
  }

  /** Leads or joins the coalesced fill for the URL: Suspended when it waits for another request. */
  #join(state: CacheRequest, now: number): CacheVerdict {
    this.cache.stats.misses++;
    // A HEAD's response is never stored, so it neither leads nor waits.
    if (state.exchange.method === 'HEAD') return CacheVerdict.Continue;
    const joined = this.cache.coalescer.join(state.key, state, now);
    if (joined === 'waiting') return CacheVerdict.Suspended;
    if (joined !== 'uncoalesced') state.fill = joined;
    return CacheVerdict.Continue;
  }

  /** On to the upstream, unless the client asked for the cache only. */
  #proceed(state: CacheRequest): CacheVerdict {
    return state.onlyIfCached ? this.#gatewayTimeout(state.exchange) : CacheVerdict.Continue;
  }

  /** A waiter's leader finished (called by CacheRequest.wake). */
  wake(state: CacheRequest, outcome: FillOutcome): void {
    // Out of the leader's call stack: its writer chain is still running.
    queueMicrotask(() => this.#woken(state, outcome));
  }

  #woken(state: CacheRequest, outcome: FillOutcome): void {
    const x = state.exchange;
    if (x.cache !== state) return; // the request ended meanwhile
    if (outcome === 'stored') {
      const now = clock.now();
      const entry = this.cache.memory.lookupKey(state.key, x.requestHeaders);
      // Fresh, or stale but being revalidated in the background (stale-while-revalidate).
      if (entry !== undefined && (entry.isFresh(now) || (now < entry.swrUntilMs && !entry.revalidateAlways))) {
        this.cache.stats.collapsed++;
        x.cache = undefined;
        this.#answerHit(x, entry, readRequestFacts(x.requestHeaders, scratchFacts), now, false, true);
        return;
      }
    }
    // Not usable for this request: it goes upstream itself, leading nothing.
    if (this.#proceed(state) === CacheVerdict.Continue) x.resume();
  }

  /** Answers from `entry`: 304 when the client's own validators match, else the stored response. */
  #answerHit(x: CacheExchange, entry: CachedResponse, facts: RequestHeaderFacts, now: number, fromRedis: boolean, collapsed = false): CacheVerdict {
    const stats = this.cache.stats;
    stats.hits++;
    if (fromRedis) stats.redisHits++;
    const extra = collapsed
      ? ['Age', String(entry.ageSeconds(now)), CACHE_STATUS, forwardStatus({ fwd: 'uri-miss', collapsed: true, ttlSeconds: entry.ttlSeconds(now) })]
      : entry.hitHeaders(now, fromRedis);
    if ((facts.ifNoneMatch !== undefined || facts.ifModifiedSince !== undefined) && clientCopyIsCurrent(entry, facts.ifNoneMatch, facts.ifModifiedSince)) {
      x.respond(304, '', notModifiedHeaders(entry.headers), extra, undefined);
    } else {
      x.respond(entry.status, entry.statusText, entry.headers, extra, entry.bodySource);
    }
    return CacheVerdict.Answered;
  }

  /** only-if-cached with nothing usable (RFC 9111 5.2.1.7). */
  #gatewayTimeout(x: CacheExchange): CacheVerdict {
    const state = x.cache;
    if (state?.fill !== undefined) this.cache.coalescer.complete(state.fill, 'failed', clock.now());
    x.cache = undefined;
    x.respond(504, '', NO_HEADERS, [CACHE_STATUS, forwardStatus({ fwd: 'request', detail: 'only-if-cached' })], EMPTY_BODY);
    return CacheVerdict.Answered;
  }

  // -------------------------------------------------------------------------
  // upstreamRequest

  upstreamRequest(x: CacheExchange, headers: string[]): void {
    const state = x.cache;
    if (state === undefined || state.mode !== CacheMode.Revalidate || state.entry === undefined) return;
    // The cache asks with its own validators; the client's are answered by the cache afterwards.
    removeClientValidators(headers);
    addValidators(headers, state.entry);
  }

  // -------------------------------------------------------------------------
  // responseHead

  responseHead(x: CacheExchange, head: CacheResponseHead): void {
    const state = x.cache;
    if (state === undefined) return;
    const now = clock.now();
    switch (state.mode) {
      case CacheMode.Unsafe:
        if (head.status >= 200 && head.status < 400) this.#invalidateAfterUnsafe(x, head);
        head.pairs.push(CACHE_STATUS, forwardStatus({ fwd: 'method', fwdStatus: head.status }));
        return;
      case CacheMode.Bypass:
        head.pairs.push(CACHE_STATUS, forwardStatus({ fwd: 'bypass', fwdStatus: head.status, detail: state.detail }));
        return;
    }
    const entry = state.entry;
    if (entry !== undefined) {
      if (head.status === 304 && state.mode === CacheMode.Revalidate && this.#revalidated(x, head, state, entry, now)) return;
      if (isServerError(head.status) && now < entry.sieUntilMs) {
        this.#serveStaleOnError(x, head, state, entry, now, head.status);
        return;
      }
    }
    this.#considerStoring(x, head, state, now);
  }

  /** The upstream confirmed the stored entry: refresh it and answer from it. */
  #revalidated(x: CacheExchange, head: CacheResponseHead, state: CacheRequest, entry: CachedResponse, now: number): boolean {
    const freshened = this.cache.freshen(entry, head.pairs, this.#requestFacts(x, state), state.requestTimeMs, now, this.defaultTtlMs);
    if (freshened === undefined) {
      // The 304 is about another representation: this entry is no longer trustworthy.
      this.cache.memory.remove(entry);
      this.#completeFill(state, 'failed', now);
      return false;
    }
    const updated = freshened.entry;
    if (freshened.keep) {
      this.cache.stats.revalidated++;
      this.cache.store(updated);
    } else this.cache.memory.remove(entry);
    this.#completeFill(state, freshened.keep ? 'stored' : 'not-stored', now);
    const cacheStatus = forwardStatus({ fwd: 'stale', fwdStatus: 304, ttlSeconds: updated.ttlSeconds(now), stored: freshened.keep });
    head.pairs.length = 0;
    if ((state.ifNoneMatch !== undefined || state.ifModifiedSince !== undefined) && clientCopyIsCurrent(updated, state.ifNoneMatch, state.ifModifiedSince)) {
      head.status = 304;
      head.statusText = '';
      head.pairs.push(...notModifiedHeaders(updated.headers), 'Age', String(updated.ageSeconds(now)), CACHE_STATUS, cacheStatus);
      x.replaceBody(undefined);
    } else {
      head.status = updated.status;
      head.statusText = updated.statusText;
      head.pairs.push(...updated.headers, 'Age', String(updated.ageSeconds(now)), CACHE_STATUS, cacheStatus);
      x.replaceBody(updated.bodySource);
    }
    x.cache = undefined;
    return true;
  }

  /** The upstream failed with a 5xx and the entry allows stale-if-error: serve it instead. */
  #serveStaleOnError(x: CacheExchange, head: CacheResponseHead, state: CacheRequest, entry: CachedResponse, now: number, upstreamStatus: number): void {
    this.cache.stats.servedOnError++;
    this.#completeFill(state, 'failed', now);
    head.status = entry.status;
    head.statusText = entry.statusText;
    head.pairs.length = 0;
    head.pairs.push(...entry.headers, 'Age', String(entry.ageSeconds(now)), CACHE_STATUS, forwardStatus({ fwd: 'stale', fwdStatus: upstreamStatus, ttlSeconds: entry.ttlSeconds(now) }));
    x.replaceBody(entry.bodySource);
    x.cache = undefined;
  }

  /** A full response: store a copy while it streams, if the rules allow. */
  #considerStoring(x: CacheExchange, head: CacheResponseHead, state: CacheRequest, now: number): void {
    const decision = decideStorage(this.#requestFacts(x, state), head.status, head.pairs, state.requestTimeMs, now, this.defaultTtlMs);
    const fwd = { fwd: state.fwd, fwdStatus: head.status, collapsed: state.collapsed };
    let reason: NotStoredReason | undefined = decision.storable ? undefined : decision.reason;
    if (decision.storable && head.contentLength > this.cache.memory.maxObjectBytes) reason = 'too-large';
    if (reason !== undefined) {
      // The stored entry (if any) is outdated by this response, which cannot replace it.
      if (state.entry !== undefined) this.cache.memory.remove(state.entry);
      if (responseReasons.has(reason)) {
        if (state.fill !== undefined) this.#completeFill(state, 'not-stored', now);
        else this.cache.coalescer.markHitForMiss(state.key, now);
      } else this.#completeFill(state, 'failed', now);
      head.pairs.push(CACHE_STATUS, forwardStatus({ ...fwd, detail: reason }));
      return;
    }
    const plan = decision as StoragePlan;
    // The head as the upstream sent it, before later filters change it.
    const snapshot = [...head.pairs];
    const storing = new StoringWriter(this, state, plan, head.status, head.statusText, snapshot, head.contentLength);
    x.transformBody((next) => storing.attach(next));
    // `stored` is promised only when the length is known to fit; a chunked body may still turn out too large.
    head.pairs.push(CACHE_STATUS, forwardStatus({ ...fwd, stored: head.contentLength >= 0 }));
  }

  /** Called by StoringWriter once the body is complete (or abandoned). */
  finishStoring(state: CacheRequest, plan: StoragePlan, status: number, statusText: string, headers: readonly string[], body: Buffer | undefined): void {
    const now = clock.now();
    if (body === undefined) {
      this.#completeFill(state, 'failed', now);
      return;
    }
    const x = state.exchange;
    const entry = buildEntry({ key: state.key, host: x.host, path: x.path, query: state.keyQuery }, plan, x.requestHeaders, status, statusText, headers, body, now);
    const stored = this.cache.store(entry);
    this.#completeFill(state, stored ? 'stored' : 'not-stored', now);
  }

  #requestFacts(x: CacheExchange, state: CacheRequest): RequestFacts {
    return { method: x.method === 'HEAD' ? 'HEAD' : 'GET', hasAuthorization: state.hasAuthorization, noStore: state.noStore };
  }

  #completeFill(state: CacheRequest, outcome: 'stored' | 'not-stored' | 'failed', now: number): void {
    const fill = state.fill;
    if (fill === undefined) return;
    state.fill = undefined;
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
   * The upstream gave no response (connection refused or reset, timeout):
   * true when a stale entry was served instead (stale-if-error).
   */
  upstreamFailed(x: CacheExchange, status: number): boolean {
    const state = x.cache;
    if (state === undefined) return false;
    const now = clock.now();
    const entry = state.entry;
    if (entry === undefined || now >= entry.sieUntilMs) {
      this.#completeFill(state, 'failed', now);
      return false;
    }
    this.cache.stats.servedOnError++;
    this.#completeFill(state, 'failed', now);
    x.cache = undefined;
    x.respond(entry.status, entry.statusText, entry.headers, ['Age', String(entry.ageSeconds(now)), CACHE_STATUS, forwardStatus({ fwd: 'stale', fwdStatus: status, ttlSeconds: entry.ttlSeconds(now) })], entry.bodySource);
    return true;
  }

  done(x: CacheExchange): void {
    const state = x.cache;
    if (state === undefined) return;
    x.cache = undefined;
    this.#completeFill(state, 'failed', clock.now());
  }
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
  readonly #plan: StoragePlan;
  readonly #status: number;
  readonly #statusText: string;
  readonly #headers: readonly string[];
  readonly #limit: number;
  #next: BodyWriter | undefined = undefined;
  /** Exactly sized when the length is known. */
  #buffer: Buffer | undefined;
  #chunks: Buffer[] | undefined;
  #length = 0;
  #storing = true;

  constructor(filter: CacheFilter, state: CacheRequest, plan: StoragePlan, status: number, statusText: string, headers: readonly string[], contentLength: number) {
    this.#filter = filter;
    this.#state = state;
    this.#plan = plan;
    this.#status = status;
    this.#statusText = statusText;
    this.#headers = headers;
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
      this.#filter.finishStoring(this.#state, this.#plan, this.#status, this.#statusText, this.#headers, body);
    }
    this.#next!.end();
  }

  abort(error?: Error): void {
    this.#abandon();
    this.#next!.abort(error);
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
    this.#filter.finishStoring(this.#state, this.#plan, this.#status, this.#statusText, this.#headers, undefined);
  }
}
