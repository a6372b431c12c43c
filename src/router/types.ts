/**
 * The router's own vocabulary. `router/` imports nothing else from `src/`: it is
 * pure, takes method, host, path and a header lookup, and can be tested and
 * benchmarked without uWS or undici. Config's `RouteSpec` fits `RouteRule`
 * structurally.
 *
 * @module
 */

export interface RouteConditions {
  /** Lowercase; exact or `*.suffix`. */
  readonly host: string | undefined;
  readonly pathPrefix: string | undefined;
  readonly pathExact: string | undefined;
  /** Regex source; compiled once when the router is built. */
  readonly pathRegex: string | undefined;
  /** Uppercase method names. */
  readonly methods: readonly string[] | undefined;
  /** Lowercase header name, exact value. */
  readonly header: { readonly name: string; readonly value: string } | undefined;
}

export interface RouteRule {
  readonly index: number;
  readonly match: RouteConditions;
}

/** Request headers as the router sees them: a lookup by lowercase name. */
export interface HeaderLookup {
  get(lowerCaseName: string): string | undefined;
}

export interface Router<R extends RouteRule> {
  /**
   * The first route (in config order) whose conditions all hold, or undefined.
   * `host` is lowercase without port; `path` is the normalised path without query.
   */
  match(method: string, host: string, path: string, headers: HeaderLookup): R | undefined;
}
