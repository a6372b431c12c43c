/**
 * The router the proxy uses: compiled once from the ordered route list.
 *
 * @module
 */
import { CompiledRouter } from './compiled-router.js';
import type { RouteRule, Router } from './types.js';

/** Builds the router for `routes` (config order, first match wins). Immutable: rebuild on reload. */
export function createRouter<R extends RouteRule>(routes: readonly R[]): Router<R> {
  return new CompiledRouter(routes);
}
