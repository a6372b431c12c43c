/**
 * `warpdrive routes`: the route table as the router will use it, and, with
 * `--explain "METHOD URL"`, which route a request reaches and why each earlier
 * route did not take it.
 *
 * The explanation walks the list in order with the router's own condition code
 * (route-predicate.ts), and the answer is cross-checked with the compiled router,
 * so what this prints is what the proxy does. Routes are numbered from 1, as in
 * `warpdrive check`.
 *
 * @module
 */
import { loadConfig } from '../config/load.js';
import type { RouteSpec } from '../config/types.js';
import { createRouter } from '../router/create-router.js';
import { normalizeHost } from '../router/normalize-host.js';
import { normalizePath } from '../router/normalize-path.js';
import { explainMismatch } from '../router/route-predicate.js';
import type { HeaderLookup } from '../router/types.js';

/** The conditions of a route in one line; `any request` when it has none. */
function describeConditions(route: RouteSpec): string {
  const { match } = route;
  const parts: string[] = [];
  if (match.host !== undefined) parts.push(`host ${match.host}`);
  if (match.pathExact !== undefined) parts.push(`path = ${match.pathExact}`);
  if (match.pathPrefix !== undefined) parts.push(`path under ${match.pathPrefix}`);
  if (match.pathRegex !== undefined) parts.push(`path ~ /${match.pathRegex}/`);
  if (match.methods !== undefined) parts.push(`method ${match.methods.join('|')}`);
  if (match.header !== undefined) parts.push(`header ${match.header.name}: ${match.header.value}`);
  return parts.length === 0 ? 'any request' : parts.join(', ');
}

/** `upstream "rails"`, or for a static route `files from /app/public, else upstream "rails"` (or 404). */
function describeTarget(route: RouteSpec): string {
  const upstream = route.upstream === undefined ? '404' : `upstream "${route.upstream}"`;
  return route.staticFiles === undefined ? upstream : `files from ${route.staticFiles.root} (GET/HEAD), else ${upstream}`;
}

function describeActions(route: RouteSpec): string {
  const parts: string[] = [];
  if (route.stripPrefix) parts.push('strip_prefix');
  if (route.rewrite !== undefined) parts.push(`rewrite ${route.rewrite}`);
  if (route.requireAuth) parts.push('require_auth');
  if (route.addHeaders.length > 0) parts.push(`+${route.addHeaders.length} header${route.addHeaders.length === 1 ? '' : 's'}`);
  if (route.staticFiles !== undefined) parts.push(`static_root ${route.staticFiles.root}`);
  return parts.join(', ');
}

/** Pads every column of `rows` to its widest cell. */
function alignColumns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/**
 * The route table in match order, one route per line, with a summary of how the
 * compiled router files them (exact hosts, wildcard hosts, host-less).
 */
export function formatRoutesTable(routes: readonly RouteSpec[]): string {
  if (routes.length === 0) return 'No routes: every request gets 404.\n';
  const rows = [['#', 'host', 'conditions', 'upstream', 'options', 'description']];
  for (const route of routes) {
    const { host, ...pathAndMore } = route.match;
    const conditions = describeConditions({ ...route, match: { ...pathAndMore, host: undefined } });
    rows.push([String(route.index + 1), host ?? '*any*', conditions, route.staticFiles === undefined ? route.upstream ?? '' : `files, else ${route.upstream ?? '404'}`, describeActions(route), route.description ?? '']);
  }
  const exactHosts = new Set<string>();
  const wildcardHosts = new Set<string>();
  let hostless = 0;
  for (const route of routes) {
    const host = route.match.host;
    if (host === undefined) hostless++;
    else if (host.startsWith('*')) wildcardHosts.add(host);
    else exactHosts.add(host);
  }
  const summary =
    `${routes.length} route${routes.length === 1 ? '' : 's'}, first match wins; compiled into ${exactHosts.size} exact host${exactHosts.size === 1 ? '' : 's'}, ` +
    `${wildcardHosts.size} wildcard host${wildcardHosts.size === 1 ? '' : 's'} and ${hostless} host-less route${hostless === 1 ? '' : 's'}.`;
  return [...alignColumns(rows), '', summary, ''].join('\n');
}

/** A malformed `routes` argument (--explain, -H, the URL): the CLI should exit 2 with the message, no stack. */
export class RoutesArgumentError extends Error {
  override readonly name = 'RoutesArgumentError';
  readonly code = 'WD_ERR_ARGUMENT';
}

/** Host and path of a request as they arrive, before normalisation. */
export interface RequestTarget {
  /** Host with port and case as given (userinfo removed). */
  readonly rawHost: string;
  /** Path without query or fragment, as given. */
  readonly rawPath: string;
}

/**
 * Splits `url` the way the proxy sees a request: an absolute URL
 * (`https://Example.com:8443/a?b`) gives host and path; an origin-form path
 * (`/a?b`) takes the host from the Host header. Both are kept raw (the URL parser
 * would normalise the path itself) so the explanation shows warpdrive's own
 * normalisation.
 */
export function parseRequestTarget(url: string, headers: Record<string, string>): RequestTarget {
  let authority: string;
  let rest: string;
  if (url.startsWith('/')) {
    const hostHeader = Object.entries(headers).find(([name]) => name.toLowerCase() === 'host')?.[1];
    authority = hostHeader?.trim() ?? '';
    rest = url;
  } else {
    const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(url);
    if (absolute === null) {
      throw new RoutesArgumentError(`cannot read "${url}" as a request URL; fix: give an absolute URL like "https://example.com/cable" or a path like "/cable" with -H "Host: example.com"`);
    }
    authority = absolute[1]!;
    rest = absolute[2]!;
  }
  const end = rest.search(/[?#]/);
  const rawPath = end < 0 ? rest : rest.slice(0, end);
  return { rawHost: authority.slice(authority.lastIndexOf('@') + 1), rawPath: rawPath === '' ? '/' : rawPath };
}

/** A HeaderLookup over a record whose names are matched case-insensitively. */
function lookupOf(headers: Record<string, string>): HeaderLookup {
  const byLowerName = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { get: (name) => byLowerName.get(name) };
}

/**
 * Which route `method url` (with `headers`) reaches, and for every earlier route
 * the first condition that failed. Throws on a URL it cannot read.
 */
export function explainMatch(routes: readonly RouteSpec[], method: string, url: string, headers: Record<string, string>): string {
  const upperMethod = method.toUpperCase();
  const { rawHost, rawPath } = parseRequestTarget(url, headers);
  const host = normalizeHost(rawHost);
  const lines = [`Request: ${upperMethod} host "${host ?? rawHost}" path "${rawPath}"`];
  if (host === undefined) {
    lines.push(`The host "${rawHost}" holds characters no host may contain: warpdrive answers 400.`);
    return lines.join('\n') + '\n';
  }
  const path = normalizePath(rawPath);
  if (path === undefined) {
    lines.push(`The path cannot be normalised safely (bad escape, NUL, control character, backslash or not starting with "/"): warpdrive answers 400.`);
    return lines.join('\n') + '\n';
  }
  if (path !== rawPath) lines.push(`Normalised path: "${path}"`);
  const lookup = lookupOf(headers);
  let chosen: RouteSpec | undefined;
  for (const route of routes) {
    const reason = explainMismatch(route.match, upperMethod, host, path, lookup);
    if (reason === undefined) {
      chosen = route;
      lines.push(`  #${route.index + 1}  MATCH  ${describeConditions(route)} -> ${describeTarget(route)}`);
      break;
    }
    lines.push(`  #${route.index + 1}  no     ${reason}`);
  }
  const compiled = createRouter(routes).match(upperMethod, host, path, lookup);
  if (compiled !== chosen) {
    // Cannot happen unless the compiled router has a bug; say so rather than mislead.
    lines.push(`WARNING: the compiled router picks ${compiled === undefined ? 'no route' : `#${compiled.index + 1}`}; please report this as a bug.`);
  }
  if (chosen === undefined) {
    lines.push('No route matches: warpdrive answers 404.');
  } else {
    const later = routes.length - 1 - routes.indexOf(chosen);
    lines.push(`Route #${chosen.index + 1} matches: ${describeTarget(chosen)}.${later > 0 ? ` (${later} later route${later === 1 ? '' : 's'} not consulted.)` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** `"GET https://example.com/cable"` -> method and URL; a bare URL means GET. */
export function parseExplainArgument(text: string): { method: string; url: string } {
  const parts = text.trim().split(/\s+/);
  if (parts.length === 1 && parts[0] !== '') return { method: 'GET', url: parts[0]! };
  if (parts.length === 2) return { method: parts[0]!, url: parts[1]! };
  throw new RoutesArgumentError(`--explain expects "METHOD URL", e.g. --explain "GET https://example.com/cable"; got "${text}"`);
}

/** `"Name: value"` (from -H) -> [name, value]. */
export function parseHeaderArgument(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new RoutesArgumentError(`-H expects "Name: value", e.g. -H "X-API-Version: v2"; got "${text}"`);
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

export interface RoutesCommandOptions {
  readonly configFile: string | undefined;
  /** `--explain "METHOD URL"`. */
  readonly explain: string | undefined;
  /** `-H "Name: value"`, repeatable. */
  readonly headers: readonly string[];
}

/**
 * The whole `warpdrive routes` command: loads the config (throws ConfigError
 * with every problem), then prints the table or the explanation. Returns the text
 * for stdout without a final newline; throws RoutesArgumentError (with a fix) for
 * bad arguments.
 */
export function runRoutesCommand(options: RoutesCommandOptions): string {
  const plan = loadConfig({ configFile: options.configFile });
  if (options.explain === undefined) return formatRoutesTable(plan.routes).trimEnd();
  const { method, url } = parseExplainArgument(options.explain);
  const headers: Record<string, string> = {};
  for (const header of options.headers) {
    const [name, value] = parseHeaderArgument(header);
    headers[name] = value;
  }
  return explainMatch(plan.routes, method, url, headers).trimEnd();
}
