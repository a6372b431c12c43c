/**
 * The reference router: an in-order scan, first match wins. It is the meaning
 * of the `[[routes]]` list; the compiled router is tested against it.
 *
 * @module
 */
import { compileConditions } from './route-predicate.js';
import type { HeaderLookup, RouteRule, Router } from './types.js';

export class ScanRouter<R extends RouteRule> implements Router<R> {
  readonly #routes: readonly R[];
  readonly #predicates: ReadonlyArray<ReturnType<typeof compileConditions>>;

  constructor(routes: readonly R[]) {
    this.#routes = routes;
    this.#predicates = routes.map((route) => compileConditions(route.match));
  }

  match(method: string, host: string, path: string, headers: HeaderLookup): R | undefined {
    const predicates = this.#predicates;
    for (let i = 0; i < predicates.length; i++) {
      if (predicates[i]!(method, host, path, headers)) return this.#routes[i];
    }
    return undefined;
  }
}
