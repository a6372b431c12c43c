/**
 * What every proxy is configured to do in one scenario, independent of any
 * proxy's config syntax: which upstream instances to balance over and which
 * routes to match. Each proxy's config is rendered from the same topology, so
 * the configurations stay equivalent by construction.
 *
 * @module
 */

/** One host + path-prefix route; every route leads to the same upstream. */
export interface RouteEntry {
  /** Lowercase host name without a port. */
  readonly host: string;
  /** Always ends with '/', so that every proxy reads it as a segment prefix. */
  readonly pathPrefix: string;
}

/**
 * What a file scenario asks the proxies to do besides proxying:
 * - `compression`: gzip responses at `gzipLevel` (the same level in every proxy);
 * - `x-accel-redirect`: serve the file the upstream names under `/private/` from
 *   `filesDir/private`;
 * - `static`: serve `filesDir/public` before the upstream (`try_files $uri @app`),
 *   with precompressed `.gz` siblings.
 */
export type ProxyFeature =
  | { readonly kind: 'compression'; readonly gzipLevel: number }
  | { readonly kind: 'x-accel-redirect'; readonly filesDir: string }
  | { readonly kind: 'static'; readonly filesDir: string };

export interface Topology {
  /** Ports of the upstream instances on 127.0.0.1, balanced round-robin. */
  readonly upstreamPorts: readonly number[];
  /**
   * The route table, or undefined for one catch-all route ("/" on any host).
   * With a table, a request matching no route gets 404 from every proxy.
   */
  readonly routes: readonly RouteEntry[] | undefined;
  /** A file scenario's feature (undefined: proxying only). */
  readonly feature?: ProxyFeature;
}

/**
 * A table of `hostCount * pathsPerHost` routes: hosts `h0.bench.test` ... and,
 * under each, prefixes `/svc0/` ... Hosts and prefixes are spread so that no
 * proxy can satisfy most requests with its first few rules.
 */
export function buildRouteTable(hostCount: number, pathsPerHost: number): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (let h = 0; h < hostCount; h++) {
    for (let p = 0; p < pathsPerHost; p++) {
      routes.push({ host: `h${h}.bench.test`, pathPrefix: `/svc${p}/` });
    }
  }
  return routes;
}

/** One request (Host header and path) that falls under each route, in table order. */
export function requestTargetsFor(routes: readonly RouteEntry[]): Array<{ host: string; path: string }> {
  return routes.map((r) => ({ host: r.host, path: `${r.pathPrefix}item` }));
}

/** The request used to check that a proxy routes correctly before it is measured. */
export function probeTarget(topology: Topology): { host: string | undefined; path: string } {
  const first = topology.routes?.[0];
  return first ? { host: first.host, path: `${first.pathPrefix}item` } : { host: undefined, path: '/' };
}
