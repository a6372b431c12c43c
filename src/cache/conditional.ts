/**
 * A client's conditional GET/HEAD answered from a stored response (RFC 9111
 * 4.3.2, RFC 9110 13.1 and 13.2.2): If-None-Match first, compared weakly, and
 * only when it is absent If-Modified-Since, against the stored Last-Modified (or
 * its Date when it has none). If-Match, If-Unmodified-Since and If-Range apply to
 * the origin, not to a cache: requests carrying them are not served from the
 * cache at all (see request-facts.ts).
 *
 * @module
 */
import type { CachedResponse } from './cached-response.js';
import { parseHttpDate } from './http-date.js';

/** The opaque part of an entity-tag, without the weak prefix and quotes, for weak comparison. */
function opaqueTag(tag: string): string {
  let t = tag.trim();
  // W/"x" (and the lowercase w/ some servers send) is weak; weak comparison ignores the flag.
  if (t.length > 2 && (t[0] === 'W' || t[0] === 'w') && t[1] === '/') t = t.slice(2);
  if (t.length >= 2 && t[0] === '"' && t[t.length - 1] === '"') t = t.slice(1, -1);
  return t;
}

/**
 * Whether an If-None-Match field value matches `etag` by weak comparison
 * (RFC 9110 8.8.3.2): `*` matches any stored representation.
 */
export function ifNoneMatchMatches(ifNoneMatch: string, etag: string | undefined): boolean {
  const value = ifNoneMatch.trim();
  if (value === '*') return true;
  if (etag === undefined) return false;
  const stored = opaqueTag(etag);
  // Tags are quoted strings that may contain commas; split outside quotes.
  let start = 0;
  let quoted = false;
  for (let i = 0; i <= value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    else if ((c === ',' && !quoted) || i === value.length) {
      if (opaqueTag(value.slice(start, i)) === stored) return true;
      start = i + 1;
    }
  }
  return false;
}

/**
 * Whether the client's own validators say its copy is current, so the answer is
 * 304 instead of the stored response.
 */
export function clientCopyIsCurrent(entry: CachedResponse, ifNoneMatch: string | undefined, ifModifiedSince: string | undefined): boolean {
  if (ifNoneMatch !== undefined) return ifNoneMatchMatches(ifNoneMatch, entry.etag);
  if (ifModifiedSince === undefined) return false;
  const since = parseHttpDate(ifModifiedSince);
  if (Number.isNaN(since)) return false;
  const modified = Number.isNaN(entry.lastModifiedMs) ? entry.dateMs : entry.lastModifiedMs;
  return modified <= since;
}

/**
 * Header fields of a 304 answered from the cache (RFC 9110 15.4.5): those a 200
 * would carry that guide caches: Cache-Control, Content-Location, ETag, Expires,
 * Vary (Date is written by the sink).
 */
const notModifiedFields: ReadonlySet<string> = new Set(['cache-control', 'content-location', 'etag', 'expires', 'vary', 'cdn-cache-control', 'surrogate-control']);

export function notModifiedHeaders(stored: readonly string[]): string[] {
  const headers: string[] = [];
  for (let i = 0; i < stored.length; i += 2) {
    if (notModifiedFields.has(stored[i]!.toLowerCase())) headers.push(stored[i]!, stored[i + 1]!);
  }
  return headers;
}
