/**
 * One proxy thread's response cache: the memory tier, the optional Redis tier,
 * request coalescing, revalidation and invalidation. The cache filter
 * (cache-filter.ts) drives it from the request pipeline; this module knows
 * nothing of exchanges.
 *
 * Invalidations that start on this thread (an unsafe request, a purge) are
 * applied to this thread's memory at once and handed to `onLocalInvalidation`,
 * which the thread wiring relays to the other proxy threads and to Redis (once,
 * from the main thread). Invalidations that arrive from elsewhere (a NOTIFY,
 * another thread) are applied to memory only.
 *
 * @module
 */
import { clock } from './clock.js';
import { CachedResponse } from './cached-response.js';
import { primaryKey, QueryFilter } from './cache-key.js';
import { firstHeader, headerValues } from './header-list.js';
import type { InvalidationPattern } from './invalidation-pattern.js';
import { MemoryStore } from './memory-store.js';
import { RequestCoalescer } from './request-coalescer.js';
import { headersToStore, updateStoredHeaders } from './stored-headers.js';
import { decideStorage, type Freshness, type RequestFacts, type StoragePlan } from './storage-policy.js';
import { varyValues } from './vary.js';

/** The Redis tier as the cache uses it (redis-store.ts). */
export interface SharedTier {
  /** False while Redis is down or answering slowly: lookups are skipped, costing nothing. */
  readonly usable: boolean;
  /** The stored entry matching the request's Vary headers; undefined on a miss, an error or a timeout. */
  lookup(key: string, requestHeaders: readonly string[]): Promise<CachedResponse | undefined>;
  /** Writes in the background; failures are logged by the tier, never reported to requests. */
  store(entry: CachedResponse): void;
  invalidate(patterns: readonly InvalidationPattern[]): Promise<number>;
}

/** A background GET for stale-while-revalidate, to the route the stale entry was found on. */
export interface RevalidationRequest {
  /** As the client asked for it (the route rewrites it, as for any request). */
  readonly path: string;
  readonly query: string;
  /** Flat [name, value, ...], names lowercase; validators already set. */
  readonly headers: readonly string[];
  /** The most body bytes worth reading; a longer body may be abandoned (rejecting the promise). */
  readonly maxBodyBytes: number;
}

export interface RevalidationResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: readonly string[];
  readonly body: Buffer;
  /**
   * False when a full response is not what the route's clients would get (its
   * compression, X-Sendfile or HSTS run on requests only): a 304 still refreshes the
   * entry, but anything else only shows that the entry is outdated.
   */
  readonly storable?: boolean;
}

export interface ResponseCacheOptions {
  readonly capacityBytes: number;
  readonly maxObjectBytes: number;
  readonly ignoreQueryParams: { readonly names: readonly string[]; readonly prefixes: readonly string[] };
  readonly lockTimeoutMs: number;
  readonly shared?: SharedTier | undefined;
}

/** Counters, for status output and tests. */
export class CacheStats {
  hits = 0;
  /** Stale entries served while they were revalidated in the background. */
  staleHits = 0;
  /** Hits found in Redis (also counted in hits). */
  redisHits = 0;
  misses = 0;
  stored = 0;
  revalidated = 0;
  /** Stale entries served because the upstream failed (stale-if-error). */
  servedOnError = 0;
  collapsed = 0;
}

/** Where a response came from: the identity it is stored under. */
export interface EntryIdentity {
  readonly key: string;
  readonly host: string;
  readonly path: string;
  readonly query: string;
}

/** Request header names whose conditional meaning is the client's, not the cache's. */
const clientValidators: ReadonlySet<string> = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']);

/** Builds a stored response from a decision and the bytes it covers. */
export function buildEntry(
  identity: EntryIdentity,
  plan: StoragePlan,
  requestHeaders: readonly string[],
  status: number,
  statusText: string,
  responseHeaders: readonly string[],
  body: Buffer,
  responseTimeMs: number,
): CachedResponse {
  return new CachedResponse({
    key: identity.key,
    host: identity.host,
    path: identity.path,
    query: identity.query,
    varyNames: plan.varyNames,
    varyValues: plan.varyNames === undefined ? undefined : varyValues(plan.varyNames, requestHeaders),
    status,
    statusText,
    headers: headersToStore(responseHeaders, plan.omittedHeaders),
    body,
    etag: plan.etag,
    lastModifiedMs: plan.lastModifiedMs,
    dateMs: plan.dateMs,
    tags: plan.tags,
    responseTimeMs,
    initialAgeMs: plan.initialAgeMs,
    staleAtMs: plan.staleAtMs,
    swrUntilMs: plan.swrUntilMs,
    sieUntilMs: plan.sieUntilMs,
    revalidateAlways: plan.revalidateAlways,
    omittedHeaders: plan.omittedHeaders,
  });
}

/** An entry updated by a 304 (RFC 9111 4.3.4); `keep` is false when the update made it unstorable. */
export interface Freshened {
  readonly entry: CachedResponse;
  readonly keep: boolean;
}

export class ResponseCache {
  readonly memory: MemoryStore;
  readonly queryFilter: QueryFilter;
  readonly coalescer: RequestCoalescer;
  readonly maxObjectBytes: number;
  readonly stats = new CacheStats();
  shared: SharedTier | undefined;
  /** Invalidations that start on this thread, for the other threads and Redis; unset = Redis directly. */
  onLocalInvalidation: ((patterns: readonly InvalidationPattern[]) => void) | undefined = undefined;
  readonly #revalidating = new Set<string>();

  constructor(options: ResponseCacheOptions) {
    this.memory = new MemoryStore(options.capacityBytes, options.maxObjectBytes);
    this.maxObjectBytes = options.maxObjectBytes;
    this.queryFilter = new QueryFilter(options.ignoreQueryParams);
    this.coalescer = new RequestCoalescer(options.lockTimeoutMs);
    this.shared = options.shared;
  }

  /** Background revalidations not finished yet. */
  get revalidationsInFlight(): number {
    return this.#revalidating.size;
  }

  /** The primary key for a request (ignored query parameters left out). */
  keyFor(scheme: string, host: string, path: string, query: string): string {
    return primaryKey(scheme, host, path, this.queryFilter.filter(query));
  }

  /** Stores in memory and, in the background, in Redis. False when memory refused it (too large). */
  store(entry: CachedResponse): boolean {
    const kept = this.memory.insert(entry);
    if (!kept) return false;
    this.stats.stored++;
    this.coalescer.clearHitForMiss(entry.key);
    this.shared?.store(entry);
    return true;
  }

  /**
   * Applies a 304 (or other validating response) to `old`: the stored fields are
   * updated from it, and freshness is recomputed from the result (with the
   * 304's Date and Age). Undefined when the 304 names another representation
   * (a different ETag), which must not update this one.
   */
  freshen(old: CachedResponse, validation: readonly string[], request: RequestFacts, requestTimeMs: number, now: number, defaultTtlMs: number | undefined): Freshened | undefined {
    const etag = firstHeader(validation, 'etag');
    if (etag !== undefined && old.etag !== undefined && stripWeak(etag) !== stripWeak(old.etag)) return undefined;
    const merged = updateStoredHeaders(old.headers, validation, old.omittedHeaders);
    // Date and Age are not stored, but the new response's values decide its age.
    const basis = [...merged];
    for (const name of ['date', 'age']) for (const value of headerValues(validation, name)) basis.push(name, value);
    const decision = decideStorage(request, old.status, basis, requestTimeMs, now, defaultTtlMs);
    if (!decision.storable) {
      const transient: Freshness = { dateMs: now, initialAgeMs: 0, staleAtMs: now, swrUntilMs: now, sieUntilMs: now, revalidateAlways: false };
      const plan: StoragePlan = { storable: true, ...transient, omittedHeaders: old.omittedHeaders, varyNames: old.varyNames, etag: old.etag, lastModifiedMs: old.lastModifiedMs, tags: old.tags };
      return { entry: rebuild(old, plan, merged, now), keep: false };
    }
    return { entry: rebuild(old, decision, merged, now), keep: true };
  }

  /**
   * Drops what `patterns` match from memory. `local` invalidations (this
   * thread's unsafe requests and purges) also go to `onLocalInvalidation`, or
   * straight to Redis when nothing relays them.
   */
  invalidate(patterns: readonly InvalidationPattern[], origin: 'local' | 'relayed'): number {
    let removed = 0;
    for (const pattern of patterns) removed += this.memory.invalidate(pattern);
    if (origin === 'local') {
      if (this.onLocalInvalidation !== undefined) this.onLocalInvalidation(patterns);
      else void this.shared?.invalidate(patterns);
    }
    return removed;
  }

  /**
   * Revalidates `entry` off the request path (stale-while-revalidate), at most
   * once at a time per URL, with `fetch` (the route's upstream). A 304 refreshes
   * it, a cacheable response replaces it, anything else but an error removes it;
   * on an error it stays (and may still serve stale-if-error).
   */
  revalidateInBackground(
    entry: CachedResponse,
    requestHeaders: readonly string[],
    fetch: (request: RevalidationRequest) => Promise<RevalidationResponse>,
    defaultTtlMs: number | undefined,
  ): void {
    if (this.#revalidating.has(entry.key)) return;
    this.#revalidating.add(entry.key);
    const headers: string[] = [];
    for (let i = 0; i < requestHeaders.length; i += 2) {
      if (!clientValidators.has(requestHeaders[i]!)) headers.push(requestHeaders[i]!, requestHeaders[i + 1]!);
    }
    addValidators(headers, entry);
    const requestTimeMs = clock.now();
    const facts: RequestFacts = { method: 'GET', hasAuthorization: headers.includes('authorization'), noStore: false };
    fetch({ path: entry.path, query: entry.query, headers, maxBodyBytes: this.maxObjectBytes })
      .then((response) => {
        const now = clock.now();
        if (response.status === 304) {
          const freshened = this.freshen(entry, response.headers, facts, requestTimeMs, now, defaultTtlMs);
          if (freshened?.keep === true) {
            this.stats.revalidated++;
            this.store(freshened.entry);
          } else this.memory.remove(entry);
          return;
        }
        if (response.status >= 500) return;
        const decision = response.storable === false ? undefined : decideStorage(facts, response.status, response.headers, requestTimeMs, now, defaultTtlMs);
        if (decision?.storable === true) this.store(buildEntry(entry, decision, requestHeaders, response.status, response.statusText, response.headers, response.body, now));
        // Outdated and not replaced: gone from every tier, or Redis would hand it back stale
        // and the next request would start this again. The next request fetches it anew.
        else this.invalidate([{ kind: 'path', host: entry.host, path: entry.path, query: entry.query }], 'local');
      })
      .catch(() => undefined)
      .finally(() => this.#revalidating.delete(entry.key));
  }

  close(): void {
    this.coalescer.close();
    this.memory.clear();
  }
}

/** `old` with new headers and freshness, sharing its body. */
function rebuild(old: CachedResponse, plan: StoragePlan, headers: readonly string[], now: number): CachedResponse {
  return new CachedResponse({
    key: old.key,
    host: old.host,
    path: old.path,
    query: old.query,
    varyNames: old.varyNames,
    varyValues: old.varyValues,
    status: old.status,
    statusText: old.statusText,
    headers,
    body: old.body,
    etag: plan.etag,
    lastModifiedMs: plan.lastModifiedMs,
    dateMs: plan.dateMs,
    tags: plan.tags,
    responseTimeMs: now,
    initialAgeMs: plan.initialAgeMs,
    staleAtMs: plan.staleAtMs,
    swrUntilMs: plan.swrUntilMs,
    sieUntilMs: plan.sieUntilMs,
    revalidateAlways: plan.revalidateAlways,
    omittedHeaders: old.omittedHeaders,
  });
}

function stripWeak(tag: string): string {
  const t = tag.trim();
  return t.startsWith('W/') || t.startsWith('w/') ? t.slice(2) : t;
}

/**
 * Adds the stored response's validators to an upstream request (RFC 9111 4.3.1):
 * If-None-Match with its ETag, If-Modified-Since with its Last-Modified.
 */
export function addValidators(headers: string[], entry: CachedResponse): void {
  if (entry.etag !== undefined) headers.push('if-none-match', entry.etag);
  const lastModified = firstHeader(entry.headers, 'last-modified');
  if (lastModified !== undefined) headers.push('if-modified-since', lastModified);
}

/** Removes the client's own validators and range from an upstream header list, in place. */
export function removeClientValidators(headers: string[]): void {
  let write = 0;
  for (let read = 0; read < headers.length; read += 2) {
    if (clientValidators.has(headers[read]!)) continue;
    headers[write++] = headers[read]!;
    headers[write++] = headers[read + 1]!;
  }
  headers.length = write;
}
