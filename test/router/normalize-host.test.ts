/**
 * Table-driven cases for the host the router compares.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeHost } from '../../src/router/normalize-host.js';

const cases: Array<[string, string | undefined, string]> = [
  ['example.com', 'example.com', 'canonical'],
  ['Example.COM', 'example.com', 'lowercased'],
  ['example.com:8080', 'example.com', 'port removed'],
  ['example.com:', 'example.com', 'empty port removed'],
  ['example.com.', 'example.com', 'trailing dot of an absolute name removed'],
  ['Example.com.:443', 'example.com', 'all three'],
  ['127.0.0.1:3000', '127.0.0.1', 'IPv4 with port'],
  ['[::1]:8080', '[::1]', 'IPv6 literal with port'],
  ['[::1]', '[::1]', 'IPv6 literal'],
  ['[FE80::1]', '[fe80::1]', 'IPv6 literal lowercased'],
  ['', '', 'no host'],
  ['a b', undefined, 'space'],
  ['a/b', undefined, 'slash'],
  ['user@example.com', undefined, 'userinfo'],
  ['example.com:80x', undefined, 'port with letters'],
  ['a:1:2', undefined, 'two colons outside brackets'],
  ['[::1', undefined, 'unclosed IPv6 literal'],
  ['[::1]x', undefined, 'junk after IPv6 literal'],
  ['a[b]', undefined, 'brackets outside an IPv6 literal'],
  ['exämple.com', undefined, 'raw non-ASCII (must arrive as punycode)'],
  ['a\u0000b', undefined, 'NUL'],
];

describe('normalizeHost', () => {
  for (const [raw, expected, why] of cases) {
    it(`${why}: ${JSON.stringify(raw)} -> ${expected === undefined ? '400' : JSON.stringify(expected)}`, () => {
      assert.equal(normalizeHost(raw), expected);
    });
  }

  it('returns the very same string when nothing needs to change', () => {
    const raw = ['api.example', 'com'].join('.');
    assert.ok(Object.is(normalizeHost(raw), raw));
  });
});
