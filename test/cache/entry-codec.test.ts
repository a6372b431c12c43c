/**
 * Entries as bytes for Redis.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CachedResponse } from '../../src/cache/cached-response.js';
import { decodeEntry, encodeEntry } from '../../src/cache/entry-codec.js';

const now = Date.now();

function entry(overrides: Partial<ConstructorParameters<typeof CachedResponse>[0]> = {}): CachedResponse {
  return new CachedResponse({
    key: 'https://a.com/p?q=1', host: 'a.com', path: '/p', query: 'q=1', varyNames: ['accept-language'], varyValues: ['de'],
    status: 203, statusText: 'Partial Info', headers: ['Content-Type', 'text/html; charset=utf-8', 'X-Ü', 'caf\u00e9'], body: Buffer.from([0, 1, 2, 255]),
    etag: 'W/"v1"', lastModifiedMs: now - 1000, dateMs: now - 500, tags: ['post-1', 'posts'],
    responseTimeMs: now, initialAgeMs: 1500, staleAtMs: now + 60_000, swrUntilMs: now + 70_000, sieUntilMs: now + 80_000,
    revalidateAlways: false, omittedHeaders: ['set-cookie'], ...overrides,
  });
}

const fields = (e: CachedResponse) => {
  const { newer, older, inMemory, ...rest } = e;
  void newer; void older; void inMemory;
  return rest;
};

describe('entry codec', () => {
  it('round-trips every field and the body bytes', () => {
    const original = entry();
    const copy = decodeEntry(encodeEntry(original))!;
    assert.deepEqual(fields(copy), fields(original));
    assert.deepEqual(copy.body, original.body);
    assert.equal(copy.bytes, original.bytes);
  });

  it('keeps the values JSON cannot hold: NaN Last-Modified, -Infinity freshness, no Vary', () => {
    const copy = decodeEntry(encodeEntry(entry({ lastModifiedMs: NaN, staleAtMs: -Infinity, swrUntilMs: -Infinity, sieUntilMs: -Infinity, revalidateAlways: true, varyNames: undefined, varyValues: undefined, etag: undefined })))!;
    assert.ok(Number.isNaN(copy.lastModifiedMs));
    assert.equal(copy.staleAtMs, -Infinity);
    assert.equal(copy.varyNames, undefined);
    assert.equal(copy.etag, undefined);
    assert.equal(copy.revalidateAlways, true);
  });

  it('reads anything else as a miss', () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from('WD1'), Buffer.from('WD2xxxxxxx'), Buffer.from('WD1\u0000\u0000\u0000\u0010{}'), Buffer.from('WD1\u0000\u0000\u0000\u0002{x')]) {
      assert.equal(decodeEntry(bytes), undefined);
    }
  });
});
