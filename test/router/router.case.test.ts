/**
 * The router contract: one suite that every `Router` implementation must pass
 * (Hono runs one such suite against all its routers). Imported and run by each
 * implementation's test file; on its own it registers nothing.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Router } from '../../src/router/types.js';
import { headersOf, noHeaders, table, when, type TestRoute } from './route-fixtures.js';

export type RouterFactory = (routes: readonly TestRoute[]) => Router<TestRoute>;

export function runRouterContract(implementation: string, createRouter: RouterFactory): void {
  /** Name of the route chosen for a GET on `host` + `path`, or undefined. */
  function pick(routes: TestRoute[], host: string, path: string, method = 'GET', headers = noHeaders): string | undefined {
    return createRouter(routes).match(method, host, path, headers)?.name;
  }

  describe(`router contract: ${implementation}`, () => {
    it('matches path_prefix at segment boundaries only', () => {
      const routes = table(when('sidekiq', { pathPrefix: '/sidekiq' }));
      assert.equal(pick(routes, 'a.com', '/sidekiq'), 'sidekiq');
      assert.equal(pick(routes, 'a.com', '/sidekiq/'), 'sidekiq');
      assert.equal(pick(routes, 'a.com', '/sidekiq/jobs'), 'sidekiq');
      assert.equal(pick(routes, 'a.com', '/sidekiqx'), undefined);
      assert.equal(pick(routes, 'a.com', '/sidekiqx/jobs'), undefined);
      assert.equal(pick(routes, 'a.com', '/side'), undefined);
      assert.equal(pick(routes, 'a.com', '/'), undefined);
    });

    it('treats a prefix ending in "/" as ending on a boundary', () => {
      const routes = table(when('api', { pathPrefix: '/api/' }));
      assert.equal(pick(routes, 'a.com', '/api/'), 'api');
      assert.equal(pick(routes, 'a.com', '/api/users'), 'api');
      assert.equal(pick(routes, 'a.com', '/api'), undefined);
    });

    it('lets path_prefix "/" match every path', () => {
      const routes = table(when('all', { pathPrefix: '/' }));
      for (const path of ['/', '/a', '/a/b/c', '/sidekiqx', '/%2F']) assert.equal(pick(routes, 'a.com', path), 'all', path);
    });

    it('compares paths case-sensitively', () => {
      const routes = table(when('admin', { pathPrefix: '/admin' }), when('health', { pathExact: '/health' }));
      assert.equal(pick(routes, 'a.com', '/Admin'), undefined);
      assert.equal(pick(routes, 'a.com', '/admin/x'), 'admin');
      assert.equal(pick(routes, 'a.com', '/HEALTH'), undefined);
      assert.equal(pick(routes, 'a.com', '/health'), 'health');
    });

    it('matches path_exact exactly (no trailing slash, no continuation)', () => {
      const routes = table(when('health', { pathExact: '/health' }));
      assert.equal(pick(routes, 'a.com', '/health'), 'health');
      assert.equal(pick(routes, 'a.com', '/health/'), undefined);
      assert.equal(pick(routes, 'a.com', '/health/x'), undefined);
    });

    it('lets the first matching route win, even over a more specific later one', () => {
      const routes = table(when('api', { pathPrefix: '/api' }), when('v1', { pathPrefix: '/api/v1' }), when('rest', { pathPrefix: '/' }));
      assert.equal(pick(routes, 'a.com', '/api/v1/users'), 'api');
      assert.equal(pick(routes, 'a.com', '/other'), 'rest');
    });

    it('reaches nested prefixes listed most specific first', () => {
      const routes = table(
        when('v1-users', { pathPrefix: '/api/v1/users' }),
        when('v1', { pathPrefix: '/api/v1' }),
        when('api', { pathPrefix: '/api' }),
        when('rest', { pathPrefix: '/' }),
      );
      assert.equal(pick(routes, 'a.com', '/api/v1/users/7'), 'v1-users');
      assert.equal(pick(routes, 'a.com', '/api/v1/usersx'), 'v1');
      assert.equal(pick(routes, 'a.com', '/api/v2'), 'api');
      assert.equal(pick(routes, 'a.com', '/apix'), 'rest');
    });

    it('matches exact hosts and "*.suffix" wildcards (not the bare suffix)', () => {
      const routes = table(when('exact', { host: 'api.example.com' }), when('wild', { host: '*.example.com' }));
      assert.equal(pick(routes, 'api.example.com', '/'), 'exact');
      assert.equal(pick(routes, 'www.example.com', '/'), 'wild');
      assert.equal(pick(routes, 'a.b.example.com', '/'), 'wild');
      assert.equal(pick(routes, 'example.com', '/'), undefined);
      assert.equal(pick(routes, 'badexample.com', '/'), undefined);
      assert.equal(pick(routes, 'example.org', '/'), undefined);
    });

    it('keeps first-match-wins across host levels (host-less, wildcard, exact)', () => {
      const hostlessFirst = table(when('any-cable', { pathPrefix: '/cable' }), when('www', { host: 'www.example.com', pathPrefix: '/' }));
      assert.equal(pick(hostlessFirst, 'www.example.com', '/cable'), 'any-cable');
      assert.equal(pick(hostlessFirst, 'www.example.com', '/x'), 'www');

      const exactFirst = table(when('www', { host: 'www.example.com', pathPrefix: '/' }), when('any', { pathPrefix: '/' }));
      assert.equal(pick(exactFirst, 'www.example.com', '/cable'), 'www');
      assert.equal(pick(exactFirst, 'api.example.com', '/cable'), 'any');

      const wildcardFirst = table(when('wild', { host: '*.example.com', pathPrefix: '/a' }), when('www', { host: 'www.example.com' }));
      assert.equal(pick(wildcardFirst, 'www.example.com', '/a/b'), 'wild');
      assert.equal(pick(wildcardFirst, 'www.example.com', '/b'), 'www');

      const nestedWildcards = table(when('deep', { host: '*.b.example.com' }), when('shallow', { host: '*.example.com' }));
      assert.equal(pick(nestedWildcards, 'a.b.example.com', '/'), 'deep');
      assert.equal(pick(nestedWildcards, 'b.example.com', '/'), 'shallow');
    });

    it('checks regex routes in their place between prefix routes', () => {
      const routes = table(
        when('cable', { pathPrefix: '/cable' }),
        when('posts', { pathRegex: '^/users/[0-9]+/posts' }),
        when('users', { pathPrefix: '/users' }),
      );
      assert.equal(pick(routes, 'a.com', '/users/12/posts'), 'posts');
      assert.equal(pick(routes, 'a.com', '/users/ab/posts'), 'users');
      assert.equal(pick(routes, 'a.com', '/cable'), 'cable');
    });

    it('combines all conditions of a route with AND', () => {
      const routes = table(
        when('admin-write', { host: 'a.com', pathPrefix: '/admin', methods: ['PUT', 'DELETE'], header: { name: 'x-api-version', value: 'v2' } }),
        when('admin', { pathPrefix: '/admin' }),
      );
      const v2 = headersOf({ 'X-API-Version': 'v2' });
      assert.equal(pick(routes, 'a.com', '/admin/x', 'PUT', v2), 'admin-write');
      assert.equal(pick(routes, 'a.com', '/admin/x', 'GET', v2), 'admin');
      assert.equal(pick(routes, 'a.com', '/admin/x', 'PUT', headersOf({ 'x-api-version': 'v1' })), 'admin');
      assert.equal(pick(routes, 'a.com', '/admin/x', 'PUT'), 'admin');
      assert.equal(pick(routes, 'b.com', '/admin/x', 'PUT', v2), 'admin');
    });

    it('honours a path_prefix given beside a path_exact', () => {
      const routes = table(when('both', { pathExact: '/a/b', pathPrefix: '/a' }), when('contradiction', { pathExact: '/a/b', pathPrefix: '/c' }));
      assert.equal(pick(routes, 'a.com', '/a/b'), 'both');
      assert.equal(pick(table(routes[1]!), 'a.com', '/a/b'), undefined);
    });

    it('routes by header alone and by method alone', () => {
      const routes = table(
        when('v2', { header: { name: 'x-api-version', value: 'v2' } }),
        when('posts', { methods: ['POST'] }),
      );
      assert.equal(pick(routes, 'a.com', '/x', 'GET', headersOf({ 'x-api-version': 'v2' })), 'v2');
      assert.equal(pick(routes, 'a.com', '/x', 'POST'), 'posts');
      assert.equal(pick(routes, 'a.com', '/x', 'GET'), undefined);
    });

    it('returns undefined for an empty table', () => {
      assert.equal(pick([], 'a.com', '/'), undefined);
    });

    it('returns the route object itself', () => {
      const routes = table(when('only', { pathPrefix: '/' }));
      assert.equal(createRouter(routes).match('GET', 'a.com', '/x', noHeaders), routes[0]);
    });
  });
}
