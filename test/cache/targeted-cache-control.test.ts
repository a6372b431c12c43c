/**
 * CDN-Cache-Control (RFC 9213) and Surrogate-Control.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCdnCacheControl, parseSurrogateControl } from '../../src/cache/targeted-cache-control.js';

describe('parseCdnCacheControl', () => {
  it('reads integer and boolean directives of a structured dictionary', () => {
    const d = parseCdnCacheControl(['max-age=3600, stale-while-revalidate=30', 'no-store']);
    assert.ok(d);
    assert.equal(d.maxAge, 3600);
    assert.equal(d.staleWhileRevalidate, 30);
    assert.equal(d.noStore, true);
  });

  it('is absent when missing, and invalid (ignored as a whole) when it is not a dictionary', () => {
    assert.equal(parseCdnCacheControl([]), undefined);
    for (const bad of ['max-age=10000, &&&&&', 'MaX-aGe=3600', 'max-age=10,', 'max-age=1 0', 'a="\u00e9"']) {
      assert.equal(parseCdnCacheControl([bad]), undefined, bad);
    }
  });

  it('ignores a directive of the wrong type, and parameters', () => {
    const d = parseCdnCacheControl(['max-age="10000", s-maxage=5;a=1, foobar']);
    assert.ok(d);
    assert.equal(d.maxAge, undefined);
    assert.equal(d.sMaxAge, 5);
  });

  it('caps large integers at 2^31 and ignores negative ones', () => {
    assert.equal(parseCdnCacheControl(['max-age=99999999999'])!.maxAge, 2147483648);
    assert.equal(parseCdnCacheControl(['max-age=-5'])!.maxAge, undefined);
  });

  it('takes restrictive directives whatever their value, public only when true', () => {
    assert.equal(parseCdnCacheControl(['private="set-cookie"'])!.isPrivate, true);
    assert.equal(parseCdnCacheControl(['public=?0'])!.isPublic, false);
    assert.equal(parseCdnCacheControl(['no-cache=?0'])!.noCache, false);
  });
});

describe('parseSurrogateControl', () => {
  it('uses Cache-Control syntax and counts as absent when it holds nothing known', () => {
    assert.equal(parseSurrogateControl(['max-age=60'])!.maxAge, 60);
    assert.equal(parseSurrogateControl(['max-age =100']), undefined);
    assert.equal(parseSurrogateControl(['content="ESI/1.0"']), undefined);
  });
});
