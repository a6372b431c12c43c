/**
 * Small builders for router tests: routes from partial conditions, header lookups from records.
 *
 * @module
 */
import type { HeaderLookup, RouteConditions, RouteRule } from '../../src/router/types.js';

export interface TestRoute extends RouteRule {
  readonly name: string;
}

/** A route named `name` with the given conditions (the others absent); index is set by `table`. */
export function when(name: string, conditions: Partial<RouteConditions>): Omit<TestRoute, 'index'> {
  return {
    name,
    match: {
      host: conditions.host,
      pathPrefix: conditions.pathPrefix,
      pathExact: conditions.pathExact,
      pathRegex: conditions.pathRegex,
      methods: conditions.methods,
      header: conditions.header,
    },
  };
}

/** Numbers routes in order, as config loading does. */
export function table(...routes: ReadonlyArray<Omit<TestRoute, 'index'>>): TestRoute[] {
  return routes.map((route, index) => ({ ...route, index }));
}

/** A header lookup over a record whose keys are lowercased here. */
export function headersOf(record: Record<string, string> = {}): HeaderLookup {
  const map = new Map(Object.entries(record).map(([name, value]) => [name.toLowerCase(), value]));
  return { get: (name) => map.get(name) };
}

export const noHeaders = headersOf();
