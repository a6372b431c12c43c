/**
 * Property: for every route table and every request, the compiled router picks
 * the same route as the in-order scan (the meaning of the list).
 *
 * Generators draw from small vocabularies on purpose, so that hosts, prefixes and
 * exact paths collide and shadow each other often; a second property uses
 * arbitrary strings to check the radix tree's boundary rule on odd prefixes.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CompiledRouter } from '../../src/router/compiled-router.js';
import { ScanRouter } from '../../src/router/scan-router.js';
import type { RouteConditions } from '../../src/router/types.js';
import { headersOf, type TestRoute } from './route-fixtures.js';

const segment = fc.constantFrom('a', 'b', 'ab', 'api', 'v1', 'v2', 'sidekiq', 'sidekiqx', 'users', '12', 'x', '%2F', 'A');
const exactHost = fc.constantFrom('a.com', 'b.a.com', 'x.b.a.com', 'example.com', 'www.example.com', 'api.example.com');
const wildcardHost = fc.constantFrom('*.a.com', '*.b.a.com', '*.example.com', '*.com', '*a.com');
const requestHost = fc.constantFrom('a.com', 'b.a.com', 'x.b.a.com', 'y.x.b.a.com', 'example.com', 'www.example.com', 'api.example.com', 'other.org', 'ba.com', '');
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE');
const regexSource = fc.constantFrom('^/a', 'b$', '^/api/v[0-9]+', '/users/[0-9]+', '^/$', 'x', '^/(a|b)/', '^/ab?', '^/a+b', '^\\/api\\/v1', '^/sidekiq$', '^/a|^/b', '^/users/[0-9]+$', '^/a.b', '^/a{0}');
const headerCondition = fc.record({ name: fc.constantFrom('x-v', 'x-tenant'), value: fc.constantFrom('1', '2') });

/** A normalised-looking path: "/" plus segments, sometimes with a trailing slash. */
const path = fc
  .tuple(fc.array(segment, { maxLength: 4 }), fc.boolean())
  .map(([segments, trailing]) => '/' + segments.join('/') + (trailing && segments.length > 0 ? '/' : ''));

const conditions: fc.Arbitrary<RouteConditions> = fc.record({
  host: fc.option(fc.oneof(exactHost, wildcardHost), { nil: undefined }),
  pathPrefix: fc.option(path, { nil: undefined }),
  pathExact: fc.option(path, { nil: undefined, freq: 4 }),
  pathRegex: fc.option(regexSource, { nil: undefined, freq: 4 }),
  methods: fc.option(fc.uniqueArray(method, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 3 }),
  header: fc.option(headerCondition, { nil: undefined, freq: 4 }),
});

function routesOf(list: RouteConditions[]): TestRoute[] {
  return list.map((match, index) => ({ index, name: `r${index}`, match }));
}

const request = fc.record({
  method,
  host: requestHost,
  path,
  headers: fc.dictionary(fc.constantFrom('x-v', 'x-tenant'), fc.constantFrom('1', '2')),
});

describe('CompiledRouter agrees with ScanRouter', () => {
  it('on random tables of hosts, wildcards, nested prefixes, exact paths, regexes, methods and headers', () => {
    fc.assert(
      fc.property(fc.array(conditions, { maxLength: 30 }), fc.array(request, { minLength: 1, maxLength: 25 }), (list, requests) => {
        const routes = routesOf(list);
        const scan = new ScanRouter(routes);
        const compiled = new CompiledRouter(routes);
        for (const r of requests) {
          const headers = headersOf(r.headers);
          assert.equal(compiled.match(r.method, r.host, r.path, headers)?.name, scan.match(r.method, r.host, r.path, headers)?.name, `${r.method} ${r.host} ${r.path}`);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('on arbitrary strings as prefixes, exact paths and request paths', () => {
    const text = fc.string({ maxLength: 8, unit: fc.constantFrom('/', 'a', 'b', '.', '%', 'é', '😀') });
    const loose: fc.Arbitrary<RouteConditions> = fc.record({
      host: fc.option(fc.constantFrom('h', '*h', '*', '*.h', 'a.h', '*😀h', '😀h'), { nil: undefined }),
      pathPrefix: fc.option(text, { nil: undefined }),
      pathExact: fc.option(text, { nil: undefined, freq: 4 }),
      pathRegex: fc.constant(undefined),
      methods: fc.constant(undefined),
      header: fc.constant(undefined),
    });
    fc.assert(
      fc.property(fc.array(loose, { maxLength: 20 }), fc.array(fc.tuple(fc.constantFrom('h', 'a.h', 'xh', '', 'b.a.h', 'x😀h', '😀h'), text), { minLength: 1, maxLength: 20 }), (list, requests) => {
        const routes = routesOf(list);
        const scan = new ScanRouter(routes);
        const compiled = new CompiledRouter(routes);
        const headers = headersOf();
        for (const [host, p] of requests) {
          assert.equal(compiled.match('GET', host, p, headers)?.name, scan.match('GET', host, p, headers)?.name, `${host} ${JSON.stringify(p)}`);
        }
      }),
      { numRuns: 400 },
    );
  });
});
