/**
 * Whether a shared cache may store a response, and for how long it is fresh:
 * RFC 9111 sections 3 and 4.2, with RFC 5861 (stale-while-revalidate,
 * stale-if-error) and RFC 9213 (CDN-Cache-Control).
 *
 * A response is stored when all of these hold (3, 3.5, 5.2.2):
 * - the request was a GET without `Cache-Control: no-store`;
 * - the status is final and not 206 or 304;
 * - no `no-store` (unless `must-understand` and a status warpdrive understands),
 *   no unqualified `private`;
 * - the request had no Authorization, or the response says public, s-maxage or
 *   must-revalidate;
 * - Vary is not `*`;
 * - no Set-Cookie, unless `no-cache="set-cookie"` or `private="set-cookie"` tells
 *   a shared cache to keep it out (then it is stored without it): one client's
 *   cookie must never reach another;
 * - it has explicit freshness (s-maxage, then max-age, then Expires), or the
 *   route's default TTL applies (no explicit freshness, and `public` or a status
 *   that is cacheable by default), or it says `no-cache` and has a validator (so
 *   it is stored to be revalidated on every use). Nothing else is cached: there
 *   is no heuristic freshness unless a default TTL is configured.
 *
 * Stale responses may be served (while revalidating, or when the upstream fails)
 * only as long as stale-while-revalidate / stale-if-error allow, and never when
 * the response says no-cache, must-revalidate or proxy-revalidate (4.2.4).
 *
 * @module
 */
import { CacheDirectives, parseCacheControl } from './cache-control.js';
import { firstHeader, headerListMembers, headerValues } from './header-list.js';
import { parseHttpDate } from './http-date.js';
import { parseCdnCacheControl, parseSurrogateControl } from './targeted-cache-control.js';
import { parseVary, VARY_ANY } from './vary.js';

/** Why a response was not stored; sent as Cache-Status `detail`. */
export type NotStoredReason =
  | 'method'
  | 'request-no-store'
  | 'status'
  | 'no-store'
  | 'private'
  | 'authorization'
  | 'vary-star'
  | 'set-cookie'
  | 'no-explicit-freshness'
  | 'stale-on-arrival'
  | 'too-large';

/** RFC 9110 15.1: statuses that may be given heuristic freshness (here: the default TTL). */
const heuristicallyCacheable: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** Final statuses RFC 9110 defines, minus 206 and 304 (which need partial or conditional handling): what `must-understand` may rely on. */
const understoodStatuses: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414,
  415, 416, 417, 421, 422, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 511,
]);

export interface RequestFacts {
  /** Uppercase. */
  readonly method: string;
  readonly hasAuthorization: boolean;
  /** The request said `Cache-Control: no-store`. */
  readonly noStore: boolean;
}

/** How long a storable response may be used, in absolute milliseconds. */
export interface Freshness {
  readonly dateMs: number;
  readonly initialAgeMs: number;
  readonly staleAtMs: number;
  readonly swrUntilMs: number;
  readonly sieUntilMs: number;
  readonly revalidateAlways: boolean;
}

export interface StoragePlan extends Freshness {
  readonly storable: true;
  /** Lowercase names of headers kept out of the stored copy (no-cache="..."/private="..."). */
  readonly omittedHeaders: readonly string[];
  readonly varyNames: readonly string[] | undefined;
  readonly etag: string | undefined;
  readonly lastModifiedMs: number;
  readonly tags: readonly string[];
}

export type StorageDecision = StoragePlan | { readonly storable: false; readonly reason: NotStoredReason };

function notStored(reason: NotStoredReason): StorageDecision {
  return { storable: false, reason };
}

/**
 * The directives that govern warpdrive's caching of this response: a valid
 * CDN-Cache-Control, else Surrogate-Control, else Cache-Control (plus Expires).
 */
export function effectiveDirectives(headers: readonly string[]): { directives: CacheDirectives; targeted: boolean } {
  const targeted = parseCdnCacheControl(headerValues(headers, 'cdn-cache-control')) ?? parseSurrogateControl(headerValues(headers, 'surrogate-control'));
  if (targeted !== undefined) return { directives: targeted, targeted: true };
  return { directives: parseCacheControl(headerValues(headers, 'cache-control')), targeted: false };
}

/** Age (RFC 9111 5.1): one line of digits, else ignored (0); more than one line is ambiguous and ignored too. */
function ageSeconds(headers: readonly string[]): number {
  const lines = headerValues(headers, 'age');
  if (lines.length !== 1) return 0;
  const value = lines[0]!.trim();
  if (!/^\d+$/.test(value)) return 0;
  return Math.min(Number(value), 2147483648);
}

/** Cache-Tag (comma-separated) and Surrogate-Key (space-separated) values. */
export function responseTags(headers: readonly string[]): string[] {
  const tags: string[] = [];
  for (const name of ['cache-tag', 'surrogate-key']) {
    for (const member of headerListMembers(headers, name)) {
      for (const tag of member.split(/\s+/)) if (tag !== '' && !tags.includes(tag)) tags.push(tag);
    }
  }
  return tags;
}

/**
 * Freshness of a response received at `responseTimeMs` for a request sent at
 * `requestTimeMs` (RFC 9111 4.2.1 and 4.2.3), or undefined when it has no
 * explicit freshness and no default TTL applies.
 */
export function computeFreshness(
  status: number,
  headers: readonly string[],
  directives: CacheDirectives,
  targeted: boolean,
  requestTimeMs: number,
  responseTimeMs: number,
  defaultTtlMs: number | undefined,
): Freshness | undefined {
  const dateHeader = firstHeader(headers, 'date');
  const parsedDate = dateHeader === undefined ? NaN : parseHttpDate(dateHeader);
  const dateMs = Number.isNaN(parsedDate) ? responseTimeMs : parsedDate;

  let lifetimeMs: number | undefined;
  if (directives.sMaxAge !== undefined) lifetimeMs = directives.sMaxAge * 1000;
  else if (directives.maxAge !== undefined) lifetimeMs = directives.maxAge * 1000;
  else if (!targeted) {
    const expires = headerValues(headers, 'expires');
    if (expires.length > 0) {
      // An invalid Expires, or more than one, means "already expired" (RFC 9111 5.3, 4.2.1).
      const expiresMs = expires.length === 1 ? parseHttpDate(expires[0]!) : NaN;
      lifetimeMs = Number.isNaN(expiresMs) ? 0 : Math.max(0, expiresMs - dateMs);
    }
  }
  if (lifetimeMs === undefined && defaultTtlMs !== undefined && (directives.isPublic || heuristicallyCacheable.has(status))) {
    lifetimeMs = defaultTtlMs;
  }
  if (lifetimeMs === undefined) {
    if (!directives.noCache) return undefined;
    lifetimeMs = 0;
  }

  const apparentAgeMs = Math.max(0, responseTimeMs - dateMs);
  const correctedAgeMs = ageSeconds(headers) * 1000 + Math.max(0, responseTimeMs - requestTimeMs);
  const initialAgeMs = Math.max(apparentAgeMs, correctedAgeMs);
  const staleAtMs = directives.noCache ? -Infinity : responseTimeMs + lifetimeMs - initialAgeMs;
  const mayServeStale = !directives.noCache && !directives.mustRevalidate && !directives.proxyRevalidate;
  const baseMs = Number.isFinite(staleAtMs) ? staleAtMs : responseTimeMs;
  return {
    dateMs,
    initialAgeMs,
    staleAtMs,
    swrUntilMs: mayServeStale && directives.staleWhileRevalidate !== undefined ? baseMs + directives.staleWhileRevalidate * 1000 : staleAtMs,
    sieUntilMs: mayServeStale && directives.staleIfError !== undefined ? baseMs + directives.staleIfError * 1000 : staleAtMs,
    revalidateAlways: directives.noCache,
  };
}

/** Whether and how to store `headers`/`status`, the response to `request`. */
export function decideStorage(
  request: RequestFacts,
  status: number,
  headers: readonly string[],
  requestTimeMs: number,
  responseTimeMs: number,
  defaultTtlMs: number | undefined,
): StorageDecision {
  if (request.method !== 'GET') return notStored('method');
  if (request.noStore) return notStored('request-no-store');
  if (status < 200 || status === 206 || status === 304) return notStored('status');

  const { directives, targeted } = effectiveDirectives(headers);
  if (directives.mustUnderstand) {
    if (!understoodStatuses.has(status)) return notStored('status');
  } else if (directives.noStore) return notStored('no-store');
  if (directives.isPrivate) return notStored('private');
  if (request.hasAuthorization && !directives.isPublic && directives.sMaxAge === undefined && !directives.mustRevalidate) {
    return notStored('authorization');
  }

  const vary = parseVary(headers);
  if (vary === VARY_ANY) return notStored('vary-star');

  const omittedHeaders = [...(directives.noCacheFields ?? []), ...(directives.privateFields ?? [])];
  for (const cookieHeader of ['set-cookie', 'set-cookie2']) {
    if (headerValues(headers, cookieHeader).length > 0 && !omittedHeaders.includes(cookieHeader)) return notStored('set-cookie');
  }

  const freshness = computeFreshness(status, headers, directives, targeted, requestTimeMs, responseTimeMs, defaultTtlMs);
  if (freshness === undefined) return notStored('no-explicit-freshness');

  const etag = firstHeader(headers, 'etag');
  const lastModified = firstHeader(headers, 'last-modified');
  const lastModifiedMs = lastModified === undefined ? NaN : parseHttpDate(lastModified);
  const hasValidator = etag !== undefined || !Number.isNaN(lastModifiedMs);
  // A response that can neither be served nor revalidated is not worth its memory.
  if (!hasValidator && Math.max(freshness.staleAtMs, freshness.swrUntilMs, freshness.sieUntilMs) <= responseTimeMs) {
    return notStored('stale-on-arrival');
  }

  return {
    storable: true,
    ...freshness,
    omittedHeaders,
    varyNames: vary,
    etag,
    lastModifiedMs,
    tags: responseTags(headers),
  };
}
