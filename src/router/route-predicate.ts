/**
 * One route's conditions as a predicate: the single definition of what "a route
 * matches a request" means. The in-order scan uses it for every route; the
 * compiled router uses it for the candidates its tree leaves, so the two cannot
 * disagree on a condition's meaning.
 *
 * @module
 */
import type { HeaderLookup, RouteConditions } from './types.js';

/** True when `path` is `prefix` or continues it at a segment boundary. `"/"` matches every path. */
export function isPathUnderPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  // A prefix ending in '/' already ends on a boundary ("/" and "/api/").
  return prefix.charCodeAt(prefix.length - 1) === 47 /* / */ || path.charCodeAt(prefix.length) === 47;
}

/** True when `host` (lowercase, no port) satisfies `pattern` (exact or `*.suffix`). */
export function isHostMatch(host: string, pattern: string): boolean {
  if (pattern.charCodeAt(0) === 42 /* * */) {
    // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
    const suffix = pattern.slice(1);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return host === pattern;
}

/**
 * The literal text every match of `source` must start with, when the regex is
 * anchored with `^` and begins with plain characters; otherwise ''. Lets the
 * compiled router file `^/api/v1/items/[0-9]+$` under "/api/v1/items/" so the
 * regex runs only for paths that start that way. Conservative: any `|` in the
 * source (alternation can escape the anchor) gives ''; a literal followed by
 * `?`, `*` or `{` is dropped, since it may occur zero times.
 */
export function literalRegexPrefix(source: string): string {
  if (source.charCodeAt(0) !== 94 /* ^ */ || source.includes('|')) return '';
  let literal = '';
  for (let i = 1; i < source.length; i++) {
    const ch = source[i]!;
    let char: string;
    let next = i + 1;
    if (/[A-Za-z0-9/_\-~%:@!,;=&'"<>`]/.test(ch) && ch !== '\\') {
      char = ch;
    } else if (ch === '\\' && i + 1 < source.length && /[^A-Za-z0-9]/.test(source[i + 1]!)) {
      // An identity escape of punctuation (\/, \., \-) is that character.
      char = source[i + 1]!;
      next = i + 2;
    } else {
      break;
    }
    const following = source[next];
    if (following === '?' || following === '*' || following === '{') break;
    literal += char;
    if (following === '+') break;
    i = next - 1;
  }
  return literal;
}

/** A route's conditions as a function of the request. */
export type RoutePredicate = (method: string, host: string, path: string, headers: HeaderLookup) => boolean;

/** Conditions a caller has already established by other means (the compiled router's tree). */
export interface SettledConditions {
  readonly host: boolean;
  readonly pathExact: boolean;
  readonly pathPrefix: boolean;
}

const NOTHING_SETTLED: SettledConditions = { host: false, pathExact: false, pathPrefix: false };

/** A compiled predicate for one route; the regex is built here, once. */
export function compileConditions(conditions: RouteConditions): RoutePredicate {
  return compileRemainingConditions(conditions, NOTHING_SETTLED) ?? function alwaysMatches() {
    return true;
  };
}

/**
 * The predicate for the conditions of a route that `settled` does not cover, or
 * undefined when nothing is left to check. The compiled router calls it on the
 * candidates its tree leaves; the scan calls it with nothing settled. Both thus
 * run the same code for every condition they check.
 */
export function compileRemainingConditions(conditions: RouteConditions, settled: SettledConditions): RoutePredicate | undefined {
  const host = settled.host ? undefined : conditions.host;
  const pathExact = settled.pathExact ? undefined : conditions.pathExact;
  const pathPrefix = settled.pathPrefix ? undefined : conditions.pathPrefix;
  const { methods, header } = conditions;
  const regex = conditions.pathRegex === undefined ? undefined : new RegExp(conditions.pathRegex);
  const methodSet = methods === undefined ? undefined : new Set(methods);
  if (host === undefined && pathExact === undefined && pathPrefix === undefined && regex === undefined && methodSet === undefined && header === undefined) {
    return undefined;
  }
  return function routeMatches(method, reqHost, path, headers) {
    if (host !== undefined && !isHostMatch(reqHost, host)) return false;
    if (pathExact !== undefined && path !== pathExact) return false;
    if (pathPrefix !== undefined && !isPathUnderPrefix(path, pathPrefix)) return false;
    if (regex !== undefined && !regex.test(path)) return false;
    if (methodSet !== undefined && !methodSet.has(method)) return false;
    if (header !== undefined && headers.get(header.name) !== header.value) return false;
    return true;
  };
}

/**
 * Why a route does not match a request: the first failing condition, in the
 * order the predicate checks them, as a sentence; undefined when it matches.
 * For `warpdrive routes --explain`, not the hot path.
 */
export function explainMismatch(conditions: RouteConditions, method: string, host: string, path: string, headers: HeaderLookup): string | undefined {
  if (conditions.host !== undefined && !isHostMatch(host, conditions.host)) {
    return `host "${host}" does not match "${conditions.host}"`;
  }
  if (conditions.pathExact !== undefined && path !== conditions.pathExact) {
    return `path "${path}" is not exactly "${conditions.pathExact}"`;
  }
  if (conditions.pathPrefix !== undefined && !isPathUnderPrefix(path, conditions.pathPrefix)) {
    return path.startsWith(conditions.pathPrefix)
      ? `path "${path}" continues prefix "${conditions.pathPrefix}" without a "/" (prefixes end at segment boundaries)`
      : `path "${path}" is not under prefix "${conditions.pathPrefix}"`;
  }
  if (conditions.pathRegex !== undefined && !new RegExp(conditions.pathRegex).test(path)) {
    return `path "${path}" does not match regex /${conditions.pathRegex}/`;
  }
  if (conditions.methods !== undefined && !conditions.methods.includes(method)) {
    return `method ${method} is not one of ${conditions.methods.join(', ')}`;
  }
  if (conditions.header !== undefined) {
    const actual = headers.get(conditions.header.name);
    if (actual !== conditions.header.value) {
      return actual === undefined
        ? `header ${conditions.header.name} is absent (wanted "${conditions.header.value}")`
        : `header ${conditions.header.name} is "${actual}", not "${conditions.header.value}"`;
    }
  }
  return undefined;
}
