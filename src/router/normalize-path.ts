/**
 * Request path normalisation: one canonical spelling per resource, so that a
 * route meant for `/sidekiq` cannot be slipped past with `/public/../sidekiq`,
 * `/%73idekiq` or `//sidekiq`, and so that what we match is what we forward.
 *
 * Rules (documented for users in docs/router.md):
 * - the path must start with `/` (`*` and absolute-form targets are the proxy's business);
 * - `%XX` escapes must be valid; `%00` is rejected; escapes of unreserved characters
 *   (ALPHA / DIGIT / `-` `.` `_` `~`) are decoded, every other escape is kept with
 *   uppercase hex, so `%2F` stays data inside one segment and never becomes a separator;
 * - raw control characters (0x00–0x1F, 0x7F) and backslashes are rejected: some
 *   upstreams read `\` as `/`, which would reopen the dot-segment hole;
 * - characters that are not allowed raw in a path (space, `"`, `<`, `>`, `^`, `` ` ``,
 *   `{`, `|`, `}`, non-ASCII) are percent-encoded (UTF-8, uppercase hex);
 * - runs of `/` collapse to one (`//a///b` -> `/a/b`), like nginx's `merge_slashes`;
 * - dot segments are removed as in RFC 3986 5.2.4 (also when spelled `%2e`); `..` at
 *   the root stays at the root; a segment `.;…` or `..;…` is rejected because servlet
 *   containers treat it as a dot segment.
 *
 * @module
 */

// Character classes for raw (not percent-encoded) characters below 128, looked up
// by char code: one typed-array load per character beats a chain of comparisons.
const REJECT = 0; // control characters and backslash: the request gets 400
const PLAIN = 1; // pchar (minus '%') and '/': kept as is
const ENCODE = 2; // printable but not allowed raw in a path: percent-encoded
const PERCENT = 3;
const rawClass = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) rawClass[c] = ENCODE;
rawClass[0x20] = ENCODE; // space
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") {
  rawClass[ch.charCodeAt(0)] = PLAIN;
}
rawClass[0x25] = PERCENT; // '%'
rawClass[0x5c] = REJECT; // '\'
// 0x00–0x1F and 0x7F stay REJECT (the array starts zeroed).

/** Value of a hex digit's char code, or -1. */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 65 && code <= 70) return code - 55; // A-F
  if (code >= 97 && code <= 102) return code - 87; // a-f
  return -1;
}

/** True for the unreserved characters of RFC 3986 (ALPHA / DIGIT / - . _ ~). */
function isUnreserved(code: number): boolean {
  return (
    (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) ||
    code === 45 || code === 46 || code === 95 || code === 126
  );
}

const HEX = '0123456789ABCDEF';

/**
 * The normalised form of `rawPath` (the request target's path, query removed, as
 * received), or undefined when it cannot be normalised safely (answer 400).
 * A path that is already canonical is returned as the same string, without allocating.
 */
export function normalizePath(rawPath: string): string | undefined {
  const length = rawPath.length;
  if (length === 0 || rawPath.charCodeAt(0) !== 47 /* / */) return undefined;
  // Fast scan: most real paths are already canonical; prove it char by char and
  // only fall back to the allocating rewrite when something must change.
  for (let i = 0; i < length; i++) {
    const code = rawPath.charCodeAt(i);
    if (code >= 128) return rewritePath(rawPath);
    const kind = rawClass[code]!;
    if (kind === PLAIN) {
      if (code === 47 /* / */ && i + 1 < length) {
        const next = rawPath.charCodeAt(i + 1);
        if (next === 47) return rewritePath(rawPath); // '//'
        if (next === 46 /* . */ && startsDotSegment(rawPath, i + 1)) return rewritePath(rawPath);
      }
      continue;
    }
    if (kind === PERCENT) {
      // Canonical escape: valid, uppercase hex, not NUL and not an unreserved character.
      const hi = i + 2 < length ? hexValue(rawPath.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(rawPath.charCodeAt(i + 2)) : -1;
      if (lo < 0) return undefined; // truncated or non-hex escape
      const value = hi * 16 + lo;
      if (value === 0 || isUnreserved(value) || isLowerHex(rawPath.charCodeAt(i + 1)) || isLowerHex(rawPath.charCodeAt(i + 2))) {
        return rewritePath(rawPath);
      }
      i += 2;
      continue;
    }
    if (kind === REJECT) return undefined;
    return rewritePath(rawPath); // ENCODE
  }
  return rawPath;
}

function isLowerHex(code: number): boolean {
  return code >= 97 && code <= 102;
}

/** True when the segment starting at `start` is `.`, `..`, or starts with `.;`/`..;` (raw dots only). */
function startsDotSegment(path: string, start: number): boolean {
  let end = start + 1;
  if (end < path.length && path.charCodeAt(end) === 46) end++;
  return end === path.length || path.charCodeAt(end) === 47 || path.charCodeAt(end) === 59 /* ; */;
}

/** The slow path: canonicalise every segment, then resolve dot segments and empty segments. */
function rewritePath(rawPath: string): string | undefined {
  const rawSegments = rawPath.slice(1).split('/');
  const output: string[] = [];
  let trailingSlash = false;
  for (let k = 0; k < rawSegments.length; k++) {
    const segment = canonicalSegment(rawSegments[k]!);
    if (segment === undefined) return undefined;
    const isLast = k === rawSegments.length - 1;
    if (segment === '' || segment === '.') {
      // Empty segments collapse ('//'); '.' is removed. Either, when last, leaves a trailing '/'.
      trailingSlash = isLast;
      continue;
    }
    if (segment === '..') {
      output.pop(); // at the root this is a no-op: '..' cannot climb above '/'
      trailingSlash = isLast;
      continue;
    }
    if (segment.startsWith('.;') || segment.startsWith('..;')) return undefined;
    output.push(segment);
    trailingSlash = false;
  }
  if (output.length === 0) return '/';
  return '/' + output.join('/') + (trailingSlash ? '/' : '');
}

/** One segment in canonical spelling, or undefined when it holds something unsafe. */
function canonicalSegment(segment: string): string | undefined {
  let out = '';
  let copiedUpTo = 0; // segment[copiedUpTo..i) is still to be copied verbatim
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code < 128) {
      const kind = rawClass[code]!;
      if (kind === PLAIN) continue;
      if (kind === REJECT) return undefined;
      if (kind === ENCODE) {
        out += segment.slice(copiedUpTo, i) + '%' + HEX[code >> 4]! + HEX[code & 15]!;
        copiedUpTo = i + 1;
        continue;
      }
      // PERCENT
      const hi = i + 2 < segment.length ? hexValue(segment.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(segment.charCodeAt(i + 2)) : -1;
      if (lo < 0) return undefined;
      const value = hi * 16 + lo;
      if (value === 0) return undefined;
      out += segment.slice(copiedUpTo, i) + (isUnreserved(value) ? String.fromCharCode(value) : '%' + HEX[hi]! + HEX[lo]!);
      i += 2;
      copiedUpTo = i + 1;
      continue;
    }
    // Non-ASCII: percent-encode its UTF-8 bytes (see encodeNonAscii).
    let end = i + 1;
    while (end < segment.length && segment.charCodeAt(end) >= 128) end++;
    const encoded = encodeNonAscii(segment.slice(i, end));
    if (encoded === undefined) return undefined;
    out += segment.slice(copiedUpTo, i) + encoded;
    i = end - 1;
    copiedUpTo = end;
  }
  return copiedUpTo === 0 ? segment : out + segment.slice(copiedUpTo);
}

/**
 * Non-ASCII characters of a target as browsers send them: their UTF-8 bytes,
 * percent-encoded. uWS hands the target over decoded as UTF-8, with U+FFFD for
 * bytes that are not UTF-8; those original bytes are lost, so rather than
 * forwarding different ones, such a request is refused (undefined: 400). A lone
 * surrogate cannot be encoded either.
 */
function encodeNonAscii(text: string): string | undefined {
  if (text.includes('\uFFFD')) return undefined;
  try {
    return encodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The query string (without `?`) as it is forwarded: unchanged when it is plain
 * ASCII (nearly always, checked without allocating), otherwise with non-ASCII
 * characters percent-encoded as UTF-8; undefined (answer 400) when it held bytes
 * that are not UTF-8 or control characters. undici writes targets byte for byte
 * only for characters 0x21-0xFF, so anything else would otherwise fail upstream.
 */
export function normalizeQuery(query: string): string | undefined {
  let i = 0;
  for (; i < query.length; i++) {
    const code = query.charCodeAt(i);
    if (code >= 128 || code <= 0x20 || code === 0x7f) break;
  }
  if (i === query.length) return query;
  let out = query.slice(0, i);
  for (; i < query.length; i++) {
    const code = query.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return undefined;
    if (code < 128) {
      out += query[i];
      continue;
    }
    let end = i + 1;
    while (end < query.length && query.charCodeAt(end) >= 128) end++;
    const encoded = encodeNonAscii(query.slice(i, end));
    if (encoded === undefined) return undefined;
    out += encoded;
    i = end - 1;
  }
  return out;
}
