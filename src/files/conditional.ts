/**
 * Conditional requests against a file's validators (RFC 9110 13.2.2, in its order):
 *
 * 1. `If-Match` present: none of its tags strongly matches -> 412;
 * 2. else `If-Unmodified-Since` (a valid date): modified after it -> 412;
 * 3. `If-None-Match` present: one of its tags weakly matches -> 304 for GET/HEAD,
 *    412 otherwise;
 * 4. else, for GET/HEAD, `If-Modified-Since` (a valid date): not modified since -> 304.
 *
 * `If-Range` (whether a Range applies) is here too. Dates compare in whole seconds;
 * an unparseable date is ignored, as the RFC says.
 *
 * @module
 */

export const enum Precondition {
  Proceed,
  NotModified,
  Failed,
}

/** What the request's conditional headers are compared with. */
export interface Validators {
  /** ETag: quoted, or `W/` and quoted for a weak one (a body warpdrive compressed). */
  readonly etag: string;
  /** Last-Modified as sent (IMF-fixdate). */
  readonly lastModified: string;
  /** Last-Modified in whole seconds since the epoch. */
  readonly lastModifiedSecs: number;
}

/** The request's headers, read by lowercase name (the Exchange is one). */
export interface RequestHeaders {
  get(lowerCaseName: string): string | undefined;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * True when the entity-tag list `list` contains `etag` or is `*`. `weak`: weak
 * comparison (`W/"x"` matches `"x"`); else a weak tag, ours or theirs, never matches.
 */
export function etagListMatches(list: string, etag: string, weak: boolean): boolean {
  const ownIsWeak = etag.charCodeAt(0) === 87; /* W */
  if (ownIsWeak) {
    if (!weak) return list.trim() === '*';
    etag = etag.slice(2);
  }
  const length = list.length;
  let i = 0;
  while (i < length) {
    const code = list.charCodeAt(i);
    if (code === 44 || isSpace(code)) {
      i++;
      continue;
    }
    if (code === 42 /* * */) return true;
    let isWeak = false;
    if (code === 87 /* W */ && list.charCodeAt(i + 1) === 47 /* / */) {
      isWeak = true;
      i += 2;
    }
    if (list.charCodeAt(i) !== 34 /* " */) {
      // Not an entity-tag: skip to the next element.
      while (i < length && list.charCodeAt(i) !== 44) i++;
      continue;
    }
    const close = list.indexOf('"', i + 1);
    if (close < 0) return false;
    if ((weak || !isWeak) && close + 1 - i === etag.length && list.startsWith(etag, i)) return true;
    i = close + 1;
  }
  return false;
}

/** Seconds since the epoch of an HTTP date, or undefined when it is not one. */
function dateSeconds(value: string): number | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.trunc(ms / 1000);
}

/** Evaluates the preconditions of a request for a representation with these validators. */
export function evaluatePreconditions(method: string, headers: RequestHeaders, validators: Validators): Precondition {
  const ifMatch = headers.get('if-match');
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, validators.etag, false)) return Precondition.Failed;
  } else {
    const ifUnmodifiedSince = headers.get('if-unmodified-since');
    const since = ifUnmodifiedSince === undefined ? undefined : dateSeconds(ifUnmodifiedSince);
    if (since !== undefined && validators.lastModifiedSecs > since) return Precondition.Failed;
  }
  const isRead = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = headers.get('if-none-match');
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, validators.etag, true)) return isRead ? Precondition.NotModified : Precondition.Failed;
    return Precondition.Proceed;
  }
  if (!isRead) return Precondition.Proceed;
  const ifModifiedSince = headers.get('if-modified-since');
  if (ifModifiedSince === undefined) return Precondition.Proceed;
  // The common case, a browser echoing our own Last-Modified, needs no date parsing.
  if (ifModifiedSince === validators.lastModified) return Precondition.NotModified;
  const since = dateSeconds(ifModifiedSince);
  return since !== undefined && validators.lastModifiedSecs <= since ? Precondition.NotModified : Precondition.Proceed;
}

/**
 * Whether a Range may be honoured given `If-Range` (RFC 9110 13.1.5): absent, or
 * a strong match of the ETag, or exactly the Last-Modified date.
 */
export function ifRangeAllows(headers: RequestHeaders, validators: Validators): boolean {
  const ifRange = headers.get('if-range');
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  // Strong comparison only: a weak tag on either side never allows the range.
  if (value.startsWith('"') || value.startsWith('W/')) return value === validators.etag && !value.startsWith('W/');
  const since = dateSeconds(value);
  return since !== undefined && since === validators.lastModifiedSecs;
}
