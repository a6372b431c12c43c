import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompiledRouter } from '../../src/router/compiled-router.js';
import { createRouter } from '../../src/router/create-router.js';
import { literalRegexPrefix } from '../../src/router/route-predicate.js';
import { runRouterContract } from './router.case.test.js';
import { noHeaders, table, when } from './route-fixtures.js';

runRouterContract('CompiledRouter', (routes) => new CompiledRouter(routes));
runRouterContract('createRouter', (routes) => createRouter(routes));

describe('CompiledRouter', () => {
  it('is unaffected by later changes to the array it was built from', () => {
    const routes = table(when('a', { pathPrefix: '/a' }));
    const router = new CompiledRouter(routes);
    routes.length = 0;
    assert.equal(router.match('GET', 'x.com', '/a', noHeaders)?.name, 'a');
  });

  it('cannot be extended once built', () => {
    const router = new CompiledRouter([]);
    assert.throws(() => Object.defineProperty(router, 'match', { value: () => undefined }), TypeError);
  });

  it('splits radix edges without losing routes on shared stems', () => {
    const routes = table(
      when('abcd', { pathPrefix: '/abcd' }),
      when('ab', { pathPrefix: '/ab' }),
      when('abxy', { pathPrefix: '/abxy' }),
      when('a/', { pathPrefix: '/a/' }),
    );
    const router = new CompiledRouter(routes);
    assert.equal(router.match('GET', 'h', '/abcd/e', noHeaders)?.name, 'abcd');
    assert.equal(router.match('GET', 'h', '/ab/e', noHeaders)?.name, 'ab');
    assert.equal(router.match('GET', 'h', '/abxy', noHeaders)?.name, 'abxy');
    assert.equal(router.match('GET', 'h', '/abx', noHeaders)?.name, undefined);
    assert.equal(router.match('GET', 'h', '/a/b', noHeaders)?.name, 'a/');
    assert.equal(router.match('GET', 'h', '/a', noHeaders)?.name, undefined);
  });
});

describe('literalRegexPrefix', () => {
  const cases: Array<[string, string]> = [
    ['^/api/v1/items/[0-9]+$', '/api/v1/items/'],
    ['^\\/api\\/v1', '/api/v1'],
    ['^/ab?c', '/a'],
    ['^/ab*', '/a'],
    ['^/ab{0,2}', '/a'],
    ['^/a+b', '/a'],
    ['^/a.b', '/a'],
    ['^/(a|b)', ''],
    ['^/a|^/b', ''],
    ['/users/[0-9]+', ''],
    ['^\\d+', ''],
    ['^/$', '/'],
  ];
  for (const [source, literal] of cases) {
    it(`${source} -> ${JSON.stringify(literal)}`, () => {
      assert.equal(literalRegexPrefix(source), literal);
    });
  }
});
