/**
 * Vary (RFC 9110 12.5.5, RFC 9111 4.1): which request headers select among
 * stored responses for one URL, and how two requests' values are compared.
 *
 * A stored response remembers the normalised values its request had for each
 * header its Vary names; a later request matches when its own normalised values
 * are the same. Normalisation is what RFC 9111 4.1 allows: several field lines
 * are combined, and whitespace around commas and at the ends is dropped, so
 * `Foo: 1, 2` matches `Foo: 1` + `Foo: 2` and `Foo:  1,2 `. A header the request
 * lacks matches only a request that lacked it too.
 *
 * @module
 */
import { headerListMembers } from './header-list.js';

/** The value recorded for a header the request did not send (no header value can contain NUL). */
export const ABSENT = '\u0000';

/** `Vary: *` (RFC 9111 4.1: "always fails to match", so such a response is never stored). */
export const VARY_ANY = '*';

/**
 * The header names a response varies on (lowercase, deduplicated, in order),
 * `VARY_ANY` for `*`, or undefined when it does not vary.
 */
export function parseVary(responseHeaders: readonly string[]): readonly string[] | typeof VARY_ANY | undefined {
  const members = headerListMembers(responseHeaders, 'vary');
  if (members.length === 0) return undefined;
  const names: string[] = [];
  for (const member of members) {
    if (member === '*') return VARY_ANY;
    const name = member.toLowerCase();
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** One request's normalised value of `lowerName`: its field lines combined, whitespace around commas removed. */
export function normalisedHeader(requestHeaders: readonly string[], lowerName: string): string {
  let value: string | undefined;
  for (let i = 0; i < requestHeaders.length; i += 2) {
    const name = requestHeaders[i]!;
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    value = value === undefined ? requestHeaders[i + 1]! : `${value},${requestHeaders[i + 1]!}`;
  }
  if (value === undefined) return ABSENT;
  // Fast path: nothing to normalise in the common single-token values.
  if (!/[\s,]/.test(value)) return value;
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join(',');
}

/** The request's values for each of `names`, in the same order. */
export function varyValues(names: readonly string[], requestHeaders: readonly string[]): string[] {
  return names.map((name) => normalisedHeader(requestHeaders, name));
}

/** Whether a request with `requestHeaders` selects a response stored with `names`/`values`. */
export function varyMatches(names: readonly string[], values: readonly string[], requestHeaders: readonly string[]): boolean {
  for (let i = 0; i < names.length; i++) {
    if (normalisedHeader(requestHeaders, names[i]!) !== values[i]) return false;
  }
  return true;
}
