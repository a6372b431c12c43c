/**
 * Vary parsing and matching (RFC 9111 4.1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ABSENT, parseVary, VARY_ANY, varyMatches, varyValues } from '../../src/cache/vary.js';

describe('Vary', () => {
  it('parses names, and * anywhere as "never matches"', () => {
    assert.equal(parseVary([]), undefined);
    assert.equal(parseVary(['Vary', '']), undefined);
    assert.deepEqual(parseVary(['Vary', 'Foo, bar', 'VARY', 'BAZ']), ['foo', 'bar', 'baz']);
    assert.equal(parseVary(['Vary', 'Foo, *']), VARY_ANY);
  });

  it('matches equal values, after combining lines and dropping whitespace around commas', () => {
    const values = varyValues(['foo'], ['foo', '1,2']);
    assert.deepEqual(values, ['1,2']);
    assert.ok(varyMatches(['foo'], values, ['Foo', ' 1, 2 ']));
    assert.ok(varyMatches(['foo'], values, ['foo', '1', 'foo', '2']));
    assert.ok(!varyMatches(['foo'], values, ['foo', '2,1']));
  });

  it('an absent header matches only an absent header', () => {
    const values = varyValues(['foo', 'bar', 'baz'], ['foo', '1', 'baz', '789']);
    assert.deepEqual(values, ['1', ABSENT, '789']);
    assert.ok(varyMatches(['foo', 'bar', 'baz'], values, ['baz', '789', 'foo', '1']));
    assert.ok(!varyMatches(['foo', 'bar', 'baz'], values, ['foo', '1', 'bar', '', 'baz', '789']));
    assert.ok(!varyMatches(['foo'], ['1'], []));
  });

  it('does not look at headers outside Vary', () => {
    assert.ok(varyMatches(['foo'], ['1'], ['foo', '1', 'other', '3']));
  });
});
