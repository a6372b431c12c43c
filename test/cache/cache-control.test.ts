/**
 * Cache-Control parsing: the directive grammar, quoted strings, invalid values,
 * and the cases the HTTP caching test suite (cache-tests.fyi) checks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DELTA_SECONDS, parseCacheControl, parseDeltaSeconds } from '../../src/cache/cache-control.js';

describe('parseCacheControl', () => {
  it('reads the common response directives, case-insensitively', () => {
    const d = parseCacheControl(['Public, MaX-AgE=3600, s-maxage=60', 'must-revalidate, PROXY-revalidate, immutable, must-understand']);
    assert.equal(d.isPublic, true);
    assert.equal(d.maxAge, 3600);
    assert.equal(d.sMaxAge, 60);
    assert.equal(d.mustRevalidate, true);
    assert.equal(d.proxyRevalidate, true);
    assert.equal(d.immutable, true);
    assert.equal(d.mustUnderstand, true);
    assert.equal(d.noStore, false);
  });

  it('ignores a directive named inside a quoted string, before or after the real one', () => {
    assert.equal(parseCacheControl(['extension="max-age=100", max-age=1']).maxAge, 1);
    assert.equal(parseCacheControl(['max-age=1, extension="max-age=100"']).maxAge, 1);
    assert.equal(parseCacheControl(['extension="a, no-store, b", max-age=5']).noStore, false);
    assert.equal(parseCacheControl(['x="quoted \\" max-age=9", max-age=2']).maxAge, 2);
  });

  it('skips a member with whitespace around "=" (RFC 9110 list rules), keeping the others', () => {
    assert.equal(parseCacheControl(['max-age =100']).maxAge, undefined);
    assert.equal(parseCacheControl(['max-age= 100']).maxAge, undefined);
    assert.equal(parseCacheControl(['max-age =100, no-store']).noStore, true);
  });

  it('treats an invalid number as 0 (stale), accepts leading zeros and a quoted number, caps at 2^31', () => {
    for (const value of ['a100', '100a', '-100', '3600.5', "'3600'"]) {
      assert.equal(parseCacheControl([`max-age=${value}`]).maxAge, 0, value);
    }
    // `max-age=` with no value at all is a malformed member: skipped like `max-age =1`.
    assert.equal(parseCacheControl(['max-age=']).maxAge, undefined);
    assert.equal(parseCacheControl(['max-age=003600']).maxAge, 3600);
    assert.equal(parseCacheControl(['max-age="3600"']).maxAge, 3600);
    assert.equal(parseCacheControl(['max-age=99999999999']).maxAge, MAX_DELTA_SECONDS);
    assert.equal(parseDeltaSeconds('2147483648'), MAX_DELTA_SECONDS);
  });

  it('keeps the first of repeated directives, across lines too', () => {
    assert.equal(parseCacheControl(['max-age=1800, max-age=1']).maxAge, 1800);
    assert.equal(parseCacheControl(['max-age=1', 'max-age=1800']).maxAge, 1);
  });

  it('reads qualified no-cache and private as field-name lists, unqualified ones as flags', () => {
    const d = parseCacheControl(['no-cache="Set-Cookie, X-A", private="x-b"']);
    assert.equal(d.noCache, false);
    assert.deepEqual(d.noCacheFields, ['set-cookie', 'x-a']);
    assert.equal(d.isPrivate, false);
    assert.deepEqual(d.privateFields, ['x-b']);
    const u = parseCacheControl(['no-cache, private']);
    assert.equal(u.noCache, true);
    assert.equal(u.isPrivate, true);
  });

  it('reads RFC 5861 directives and request directives', () => {
    const d = parseCacheControl(['max-age=0, stale-while-revalidate=30, stale-if-error=600']);
    assert.equal(d.staleWhileRevalidate, 30);
    assert.equal(d.staleIfError, 600);
    assert.equal(parseCacheControl(['only-if-cached']).onlyIfCached, true);
    assert.equal(parseCacheControl(['no-store']).noStore, true);
  });

  it('survives malformed input without throwing', () => {
    for (const line of ['', ',,,', '=', '"', 'max-age="unterminated', '=5, max-age=5', 'a=b=c, max-age=5', '\u0000\u00ff']) {
      assert.doesNotThrow(() => parseCacheControl([line]), line);
    }
    assert.equal(parseCacheControl(['a=b=c, max-age=5']).maxAge, 5);
    assert.equal(parseCacheControl(['max-age="unterminated']).maxAge, undefined);
  });

  it('counts the directives it recognised, ignoring extensions', () => {
    assert.equal(parseCacheControl(['foo, bar=1']).recognised, 0);
    assert.equal(parseCacheControl(['foo, max-age=1']).recognised, 1);
  });
});
