/**
 * Cache-Control parsing (RFC 9111 5.2), for responses and requests.
 *
 * The grammar is a comma-separated list of `token [ "=" ( token / quoted-string ) ]`.
 * The parser walks it by character code, so a comma or a directive name inside a
 * quoted string (`ext="max-age=100", max-age=1`) is never mistaken for a
 * directive, and whitespace around "=" makes the member invalid (it is skipped,
 * as RFC 9110 5.6.1 asks of a list member that does not parse).
 *
 * Values follow RFC 9111 1.2.2 (delta-seconds): digits only; a value that is not
 * (`100a`, `-5`, `1.5`) makes the response stale (a max-age of 0), as 4.2.1
 * encourages for invalid freshness information; values beyond 2^31 are 2^31. A
 * directive that appears twice keeps its first occurrence (4.2.1).
 *
 * This runs when a response is stored, never when one is served.
 *
 * @module
 */

/** RFC 9111 1.2.2: "a cache ... MUST use 2147483648 (2^31)" for larger delta-seconds. */
export const MAX_DELTA_SECONDS = 2147483648;

/** The directives warpdrive acts on, from one or more Cache-Control field lines. */
export class CacheDirectives {
  /** Seconds; 0 when present but invalid. */
  maxAge: number | undefined = undefined;
  sMaxAge: number | undefined = undefined;
  /** `no-cache` without field names: the response must be revalidated before each use. */
  noCache = false;
  /** `no-cache="a, b"`: these header fields must not be served from the cache (lowercase). */
  noCacheFields: string[] | undefined = undefined;
  noStore = false;
  /** `private` without field names. */
  isPrivate = false;
  /** `private="a"`: a shared cache may store the response without these fields (lowercase). */
  privateFields: string[] | undefined = undefined;
  isPublic = false;
  mustRevalidate = false;
  proxyRevalidate = false;
  mustUnderstand = false;
  immutable = false;
  /** RFC 5861; seconds. */
  staleWhileRevalidate: number | undefined = undefined;
  staleIfError: number | undefined = undefined;
  // Request directives (RFC 9111 5.2.1).
  onlyIfCached = false;
  /** Whether any directive was recognised (a targeted field with none counts as absent). */
  recognised = 0;
}

const COMMA = 0x2c;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const TAB = 0x09;

/** RFC 9110 5.6.2 tchar, as a lookup table indexed by char code. */
const tchar = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") tchar[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tchar[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tchar[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tchar[c] = 1;

function isTchar(code: number): boolean {
  return code < 128 && tchar[code] === 1;
}

/** delta-seconds: 1*DIGIT. Anything else -> 0 (stale); overflow -> 2^31. */
export function parseDeltaSeconds(value: string): number {
  if (value.length === 0) return 0;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return 0;
    n = n * 10 + d;
    if (n > MAX_DELTA_SECONDS) return MAX_DELTA_SECONDS;
  }
  return n;
}

/** A quoted list of field names (`"a, b"`) or a single token, lowercased. */
function fieldNameList(value: string): string[] {
  const names: string[] = [];
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.push(name);
  }
  return names;
}

function apply(d: CacheDirectives, name: string, value: string | undefined): void {
  switch (name) {
    case 'max-age':
      if (d.maxAge === undefined) d.maxAge = value === undefined ? 0 : parseDeltaSeconds(value);
      break;
    case 's-maxage':
      if (d.sMaxAge === undefined) d.sMaxAge = value === undefined ? 0 : parseDeltaSeconds(value);
      break;
    case 'no-cache':
      if (value === undefined) d.noCache = true;
      else (d.noCacheFields ??= []).push(...fieldNameList(value));
      break;
    case 'no-store':
      d.noStore = true;
      break;
    case 'private':
      if (value === undefined) d.isPrivate = true;
      else (d.privateFields ??= []).push(...fieldNameList(value));
      break;
    case 'public':
      d.isPublic = true;
      break;
    case 'must-revalidate':
      d.mustRevalidate = true;
      break;
    case 'proxy-revalidate':
      d.proxyRevalidate = true;
      break;
    case 'must-understand':
      d.mustUnderstand = true;
      break;
    case 'immutable':
      d.immutable = true;
      break;
    case 'stale-while-revalidate':
      if (d.staleWhileRevalidate === undefined && value !== undefined) d.staleWhileRevalidate = parseDeltaSeconds(value);
      break;
    case 'stale-if-error':
      if (d.staleIfError === undefined && value !== undefined) d.staleIfError = parseDeltaSeconds(value);
      break;
    case 'only-if-cached':
      d.onlyIfCached = true;
      break;
    default:
      // Extensions warpdrive does not know are ignored (RFC 9111 5.2.3).
      return;
  }
  d.recognised++;
}

/**
 * Parses one field line into `into`. Exposed for callers that combine lines;
 * most use `parseCacheControl`.
 */
export function parseCacheControlLine(line: string, into: CacheDirectives): void {
  const end = line.length;
  let i = 0;
  while (i < end) {
    // Skip separators and whitespace before a member.
    let c = line.charCodeAt(i);
    if (c === COMMA || c === SPACE || c === TAB) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < end && isTchar(line.charCodeAt(i))) i++;
    let valid = i > nameStart;
    const name = line.slice(nameStart, i).toLowerCase();
    let value: string | undefined;
    if (valid && i < end && line.charCodeAt(i) === EQUALS) {
      i++;
      c = i < end ? line.charCodeAt(i) : -1;
      if (c === QUOTE) {
        i++;
        let text = '';
        let closed = false;
        while (i < end) {
          c = line.charCodeAt(i);
          if (c === BACKSLASH && i + 1 < end) {
            text += line[i + 1];
            i += 2;
          } else if (c === QUOTE) {
            i++;
            closed = true;
            break;
          } else {
            text += line[i];
            i++;
          }
        }
        valid = closed;
        value = text;
      } else {
        const valueStart = i;
        while (i < end && isTchar(line.charCodeAt(i))) i++;
        valid = i > valueStart;
        value = line.slice(valueStart, i);
      }
    }
    // After a member only whitespace may come before the comma.
    while (i < end && (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB)) i++;
    if (i < end && line.charCodeAt(i) !== COMMA) {
      valid = false;
      // Skip the rest of this malformed member, minding quoted strings.
      let quoted = false;
      while (i < end) {
        c = line.charCodeAt(i);
        if (quoted && c === BACKSLASH) i++;
        else if (c === QUOTE) quoted = !quoted;
        else if (c === COMMA && !quoted) break;
        i++;
      }
    }
    if (valid) apply(into, name, value);
  }
}

/** Parses every field line of a Cache-Control (or Surrogate-Control) header. */
export function parseCacheControl(lines: readonly string[]): CacheDirectives {
  const directives = new CacheDirectives();
  for (const line of lines) parseCacheControlLine(line, directives);
  return directives;
}
