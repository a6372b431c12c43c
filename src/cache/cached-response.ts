/**
 * One stored response: what the memory tier (L1) holds, the Redis tier (L2)
 * serialises, and a hit serves.
 *
 * Everything a hit needs is computed when the response is stored, so serving it
 * is a few comparisons with the clock: `staleAtMs` (when it stops being fresh),
 * `swrUntilMs` and `sieUntilMs` (how long after that it may still be served while
 * revalidating, or when the upstream fails), all absolute times.
 *
 * The object is immutable except for the LRU links the memory store owns;
 * revalidation makes a new one that shares the body Buffer.
 *
 * @module
 */

import { BufferBodySource as BufferSource } from '../pipeline/body.js';
import { CACHE_STATUS, hitStatus } from './cache-status.js';
import { EncodedHeaders } from '../pipeline/headers.js';

/** RFC 9111 5.1: an Age that overflows is sent as 2^31. */
const MAX_AGE_SECONDS = 2147483648;

/**
 * Bytes a stored response costs beyond its header and body bytes: this object,
 * its Buffer, its arrays and its index slots. Measured with 20,000 entries on
 * Node 20 (test/cache/memory-bound.test.ts): about 700 bytes with four headers,
 * so the estimate errs on the generous side and `size_bytes` bounds real memory.
 */
export const ENTRY_OVERHEAD_BYTES = 800;
/** Estimated bytes each stored header line costs beyond its characters (two strings in an array). */
export const HEADER_OVERHEAD_BYTES = 40;

export interface CachedResponseInit {
  readonly key: string;
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly varyNames: readonly string[] | undefined;
  readonly varyValues: readonly string[] | undefined;
  readonly status: number;
  readonly statusText: string;
  readonly headers: readonly string[];
  readonly body: Buffer;
  readonly etag: string | undefined;
  /** NaN when the response has no valid Last-Modified. */
  readonly lastModifiedMs: number;
  /** The response's Date, or the time it was received when it has none. */
  readonly dateMs: number;
  /** From Cache-Tag and Surrogate-Key, for `tag:` invalidation. */
  readonly tags: readonly string[];
  readonly responseTimeMs: number;
  /** RFC 9111 4.2.3 corrected_initial_age. */
  readonly initialAgeMs: number;
  readonly staleAtMs: number;
  readonly swrUntilMs: number;
  readonly sieUntilMs: number;
  /** no-cache: never served without a successful revalidation. */
  readonly revalidateAlways: boolean;
  /** The headers that a `no-cache="..."`/`private="..."` kept out; a 304 must not bring them in. */
  readonly omittedHeaders: readonly string[];
}

export class CachedResponse implements CachedResponseInit {
  readonly key: string;
  /** From the key: `http` or `https`. */
  readonly scheme: string;
  /** From the key: the path, with `?query` when there is one. */
  readonly target: string;
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly varyNames: readonly string[] | undefined;
  readonly varyValues: readonly string[] | undefined;
  readonly status: number;
  readonly statusText: string;
  readonly headers: readonly string[];
  readonly body: Buffer;
  readonly etag: string | undefined;
  readonly lastModifiedMs: number;
  readonly dateMs: number;
  readonly tags: readonly string[];
  readonly responseTimeMs: number;
  readonly initialAgeMs: number;
  readonly staleAtMs: number;
  readonly swrUntilMs: number;
  readonly sieUntilMs: number;
  readonly revalidateAlways: boolean;
  readonly omittedHeaders: readonly string[];
  /** What this entry counts for against the memory budget. */
  readonly bytes: number;
  /** LRU links: owned by MemoryStore, null when not in a store. */
  newer: CachedResponse | null = null;
  older: CachedResponse | null = null;
  /** True while a memory store holds this entry. */
  inMemory = false;
  #bodySource: BufferSource | undefined = undefined;
  /** The header lines of the last memory hit, reused while Age and Cache-Status stay the same. */
  #hitHeaders: EncodedHeaders | undefined = undefined;
  #hitAge = -1;
  #hitTtl = 0;

  constructor(init: CachedResponseInit) {
    this.key = init.key;
    const colon = init.key.indexOf('://');
    this.scheme = init.key.slice(0, colon);
    this.target = init.key.slice(init.key.indexOf('/', colon + 3));
    this.host = init.host;
    this.path = init.path;
    this.query = init.query;
    this.varyNames = init.varyNames;
    this.varyValues = init.varyValues;
    this.status = init.status;
    this.statusText = init.statusText;
    this.headers = init.headers;
    this.body = init.body;
    this.etag = init.etag;
    this.lastModifiedMs = init.lastModifiedMs;
    this.dateMs = init.dateMs;
    this.tags = init.tags;
    this.responseTimeMs = init.responseTimeMs;
    this.initialAgeMs = init.initialAgeMs;
    this.staleAtMs = init.staleAtMs;
    this.swrUntilMs = init.swrUntilMs;
    this.sieUntilMs = init.sieUntilMs;
    this.revalidateAlways = init.revalidateAlways;
    this.omittedHeaders = init.omittedHeaders;
    this.bytes = accountedBytes(init);
  }

  /** The body as a source for the response sink; made once, shared by every hit. */
  get bodySource(): BufferSource {
    return (this.#bodySource ??= new BufferSource(this.body));
  }

  /**
   * The header lines of a hit at `now`: the stored ones, then `Age` and
   * `Cache-Status`. Those two change once a second at most, so a busy entry builds
   * the list once a second, not once a request; a list is never changed after it
   * is made, so the sink may keep it.
   */
  hitHeaders(now: number, fromRedis: boolean): EncodedHeaders {
    const age = this.ageSeconds(now);
    const ttl = this.ttlSeconds(now);
    if (fromRedis) return new EncodedHeaders([...this.headers, 'Age', String(age), CACHE_STATUS, hitStatus(ttl, true)]);
    if (age !== this.#hitAge || ttl !== this.#hitTtl || this.#hitHeaders === undefined) {
      this.#hitHeaders = new EncodedHeaders([...this.headers, 'Age', String(age), CACHE_STATUS, hitStatus(ttl, false)]);
      this.#hitAge = age;
      this.#hitTtl = ttl;
    }
    return this.#hitHeaders;
  }

  /** Fresh: may be served without asking the upstream. */
  isFresh(now: number): boolean {
    return now < this.staleAtMs;
  }

  /** Whether it can be revalidated with a conditional request. */
  get hasValidator(): boolean {
    return this.etag !== undefined || !Number.isNaN(this.lastModifiedMs);
  }

  /** The latest time any use of this entry is possible without revalidating (Redis TTL). */
  get usableUntilMs(): number {
    return Math.max(this.staleAtMs, this.swrUntilMs, this.sieUntilMs);
  }

  /** RFC 9111 4.2.3 current_age, in whole seconds, for the Age header. */
  ageSeconds(now: number): number {
    const age = Math.floor((this.initialAgeMs + now - this.responseTimeMs) / 1000);
    return age < 0 ? 0 : age > MAX_AGE_SECONDS ? MAX_AGE_SECONDS : age;
  }

  /** Seconds of freshness left (negative once stale), for Cache-Status `ttl`. */
  ttlSeconds(now: number): number {
    return Math.floor((this.staleAtMs - now) / 1000);
  }
}

/** Header and body bytes exactly, plus the fixed per-entry and per-line overhead of holding them. */
function accountedBytes(init: CachedResponseInit): number {
  let bytes = ENTRY_OVERHEAD_BYTES + init.body.length + init.key.length + init.statusText.length;
  for (const field of init.headers) bytes += field.length;
  bytes += (init.headers.length / 2) * HEADER_OVERHEAD_BYTES;
  if (init.varyValues !== undefined) for (const value of init.varyValues) bytes += value.length + HEADER_OVERHEAD_BYTES;
  for (const tag of init.tags) bytes += tag.length + HEADER_OVERHEAD_BYTES;
  return bytes;
}
