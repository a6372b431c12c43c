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

/** A compiled predicate for one route; the regex is built here, once. */
export function compileConditions(conditions: RouteConditions): (method: string, host: string, path: string, headers: HeaderLookup) => boolean {
  const { host, pathPrefix, pathExact, methods, header } = conditions;
  const regex = conditions.pathRegex === undefined ? undefined : new RegExp(conditions.pathRegex);
  const methodSet = methods === undefined ? undefined : new Set(methods);
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
