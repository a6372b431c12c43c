/**
 * A client's conditional request answered from a stored response.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CachedResponse } from '../../src/cache/cached-response.js';
import { clientCopyIsCurrent, ifNoneMatchMatches, notModifiedHeaders } from '../../src/cache/conditional.js';
import { formatHttpDate } from '../helpers/http-date.js';

const now = Math.floor(Date.now() / 1000) * 1000;

function entry(etag: string | undefined, lastModifiedMs = NaN, headers: string[] = []): CachedResponse {
  return new CachedResponse({
    key: 'http://h/p', host: 'h', path: '/p', query: '', varyNames: undefined, varyValues: undefined,
    status: 200, statusText: 'OK', headers, body: Buffer.from('x'), etag, lastModifiedMs, dateMs: now - 1000, tags: [],
    responseTimeMs: now, initialAgeMs: 0, staleAtMs: now + 60_000, swrUntilMs: now + 60_000, sieUntilMs: now + 60_000,
    revalidateAlways: false, omittedHeaders: [],
  });
}

describe('If-None-Match', () => {
  it('compares weakly, against any tag of a list, and * matches anything stored', () => {
    assert.ok(ifNoneMatchMatches('"abc"', '"abc"'));
    assert.ok(ifNoneMatchMatches('W/"abc"', '"abc"'));
    assert.ok(ifNoneMatchMatches('"abc"', 'W/"abc"'));
    assert.ok(ifNoneMatchMatches('"1", "abc", "2"', '"abc"'));
    assert.ok(ifNoneMatchMatches('"a,b", "c"', '"a,b"'));
    assert.ok(!ifNoneMatchMatches('"a,b"', '"a"'));
    assert.ok(ifNoneMatchMatches('*', '"x"'));
    assert.ok(!ifNoneMatchMatches('"abc"', '"abd"'));
    assert.ok(!ifNoneMatchMatches('"abc"', undefined));
  });
});

describe('clientCopyIsCurrent', () => {
  it('If-None-Match takes precedence over If-Modified-Since', () => {
    const e = entry('"v1"', now - 5000);
    assert.equal(clientCopyIsCurrent(e, '"v1"', formatHttpDate(now - 100_000)), true);
    assert.equal(clientCopyIsCurrent(e, '"v2"', formatHttpDate(now)), false);
  });

  it('If-Modified-Since against Last-Modified, else the stored Date', () => {
    assert.equal(clientCopyIsCurrent(entry(undefined, now - 5000), undefined, formatHttpDate(now - 5000)), true);
    assert.equal(clientCopyIsCurrent(entry(undefined, now - 5000), undefined, formatHttpDate(now - 4000)), true);
    assert.equal(clientCopyIsCurrent(entry(undefined, now - 5000), undefined, formatHttpDate(now - 6000)), false);
    assert.equal(clientCopyIsCurrent(entry(undefined), undefined, formatHttpDate(now)), true);
    assert.equal(clientCopyIsCurrent(entry(undefined), undefined, 'yesterday'), false);
    assert.equal(clientCopyIsCurrent(entry('"x"'), undefined, undefined), false);
  });

  it('a 304 carries the fields that guide caches, not the body metadata', () => {
    assert.deepEqual(
      notModifiedHeaders(['ETag', '"x"', 'Content-Type', 'text/html', 'Cache-Control', 'max-age=60', 'Vary', 'Accept', 'X-Other', '1']),
      ['ETag', '"x"', 'Cache-Control', 'max-age=60', 'Vary', 'Accept'],
    );
  });
});
