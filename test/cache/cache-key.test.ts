/**
 * Primary keys and ignored query parameters.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { primaryKey, QueryFilter } from '../../src/cache/cache-key.js';

describe('QueryFilter', () => {
  const filter = new QueryFilter({ names: ['fbclid', 'gclid'], prefixes: ['utm_'] });

  it('drops ignored names and prefixes, keeps the rest in order', () => {
    assert.equal(filter.filter('utm_source=a&b=1'), 'b=1');
    assert.equal(filter.filter('b=1&utm_source=a&c=2&fbclid=x'), 'b=1&c=2');
    assert.equal(filter.filter('utm_source=a&utm_medium=b'), '');
    assert.equal(filter.filter('z=1&a=2'), 'z=1&a=2');
    assert.equal(filter.filter('fbclid'), '');
  });

  it('compares whole names: a longer or shorter name is kept', () => {
    assert.equal(filter.filter('fbclid2=1&xfbclid=2&utm=3'), 'fbclid2=1&xfbclid=2&utm=3');
  });

  it('returns the very same string when nothing is dropped', () => {
    const query = 'page=2&sort=asc';
    assert.equal(filter.filter(query), query);
    assert.equal(new QueryFilter({ names: [], prefixes: [] }).active, false);
    assert.equal(new QueryFilter({ names: [], prefixes: [] }).filter('utm_source=a'), 'utm_source=a');
  });

  it('keeps empty pairs it does not understand', () => {
    assert.equal(filter.filter('a=1&&b=2'), 'a=1&&b=2');
    assert.equal(filter.filter('a=1&&utm_x=2'), 'a=1&');
  });
});

describe('primaryKey', () => {
  it('is scheme://host/path, with ?query only when there is one', () => {
    assert.equal(primaryKey('http', 'example.com', '/a', ''), 'http://example.com/a');
    assert.equal(primaryKey('https', 'example.com', '/a', 'b=1'), 'https://example.com/a?b=1');
  });
});
