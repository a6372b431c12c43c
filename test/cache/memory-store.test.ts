/**
 * The memory tier: byte budget, LRU order, variants, invalidation indexes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CachedResponse, ENTRY_OVERHEAD_BYTES, HEADER_OVERHEAD_BYTES } from '../../src/cache/cached-response.js';
import { parseInvalidation } from '../../src/cache/invalidation-pattern.js';
import { MemoryStore } from '../../src/cache/memory-store.js';

const now = Date.now();

function entry(path: string, bodyBytes: number, options: { host?: string; vary?: [string[], string[]]; tags?: string[]; dateMs?: number; headers?: string[] } = {}): CachedResponse {
  const host = options.host ?? 'a.com';
  return new CachedResponse({
    key: `http://${host}${path}`, host, path, query: '',
    varyNames: options.vary?.[0], varyValues: options.vary?.[1],
    status: 200, statusText: '', headers: options.headers ?? ['Content-Type', 'text/plain'], body: Buffer.alloc(bodyBytes, 1),
    etag: undefined, lastModifiedMs: NaN, dateMs: options.dateMs ?? now, tags: options.tags ?? [],
    responseTimeMs: now, initialAgeMs: 0, staleAtMs: now + 60_000, swrUntilMs: now + 60_000, sieUntilMs: now + 60_000,
    revalidateAlways: false, omittedHeaders: [],
  });
}

describe('CachedResponse accounting', () => {
  it('counts key, header and body bytes exactly, plus the stated overheads', () => {
    const e = entry('/x', 1000, { headers: ['Content-Type', 'text/plain', 'ETag', '"v1"'] });
    const exact = 'http://a.com/x'.length + 'Content-Type'.length + 'text/plain'.length + 'ETag'.length + '"v1"'.length + 1000;
    assert.equal(e.bytes, exact + ENTRY_OVERHEAD_BYTES + 2 * HEADER_OVERHEAD_BYTES);
  });
});

describe('MemoryStore', () => {
  it('never holds more than its capacity, evicting least recently used first', () => {
    const one = entry('/1', 1000).bytes;
    const store = new MemoryStore(one * 3, one);
    const [a, b, c, d] = ['/a', '/b', '/c', '/d'].map((p) => entry(p, 1000));
    for (const e of [a!, b!, c!]) assert.ok(store.insert(e));
    assert.equal(store.usedBytes, one * 3);
    // Touch /a so that /b becomes the oldest.
    assert.equal(store.lookupKey('http://a.com/a', []), a);
    store.insert(d!);
    assert.equal(store.lookupKey('http://a.com/b', []), undefined);
    assert.ok(store.lookupKey('http://a.com/a', []) && store.lookupKey('http://a.com/c', []) && store.lookupKey('http://a.com/d', []));
    assert.equal(store.usedBytes, one * 3);
    assert.equal(store.entryCount, 3);
    assert.equal(store.evictions, 1);
  });

  it('refuses an entry larger than the maximum object size, and keeps what it has', () => {
    const store = new MemoryStore(1_000_000, 2000);
    assert.ok(store.insert(entry('/small', 100)));
    assert.equal(store.insert(entry('/big', 5000)), false);
    assert.equal(store.entryCount, 1);
    assert.equal(store.lookupKey('http://a.com/big', []), undefined);
  });

  it('replaces the entry of a URL that does not vary', () => {
    const store = new MemoryStore(1_000_000, 100_000);
    store.insert(entry('/x', 10));
    const newer = entry('/x', 20);
    store.insert(newer);
    assert.equal(store.entryCount, 1);
    assert.equal(store.lookupKey('http://a.com/x', []), newer);
    assert.equal(store.usedBytes, newer.bytes);
  });

  it('keeps one entry per variant and picks the one whose Vary headers match', () => {
    const store = new MemoryStore(1_000_000, 100_000);
    const en = entry('/x', 10, { vary: [['accept-language'], ['en']] });
    const de = entry('/x', 10, { vary: [['accept-language'], ['de']] });
    store.insert(en);
    store.insert(de);
    assert.equal(store.entryCount, 2);
    assert.equal(store.lookupKey('http://a.com/x', ['accept-language', 'de']), de);
    assert.equal(store.lookupKey('http://a.com/x', ['accept-language', 'en']), en);
    assert.equal(store.lookupKey('http://a.com/x', ['accept-language', 'fr']), undefined);
    assert.ok(store.has("http", "a.com", "/x"));
    const en2 = entry('/x', 30, { vary: [['accept-language'], ['en']] });
    store.insert(en2);
    assert.equal(store.entryCount, 2);
    assert.equal(store.lookupKey('http://a.com/x', ['accept-language', 'en']), en2);
    // A response without Vary is the answer for every request: it replaces all variants.
    store.insert(entry('/x', 5));
    assert.equal(store.entryCount, 1);
  });

  it('with two matching variants, the most recent Date wins', () => {
    const store = new MemoryStore(1_000_000, 100_000);
    const older = entry('/x', 10, { vary: [['a'], ['1']], dateMs: now - 10_000 });
    const newer = entry('/x', 10, { vary: [['b'], ['\u0000']], dateMs: now });
    store.insert(older);
    store.insert(newer);
    assert.equal(store.lookupKey('http://a.com/x', ['a', '1']), newer);
  });

  it('invalidates by path (any host, any query), prefix, host, tag and everything', () => {
    const store = new MemoryStore(10_000_000, 100_000);
    store.insert(entry('/posts/42', 10));
    store.insert(entry('/posts/42', 10, { host: 'b.com' }));
    store.insert(entry('/posts/43', 10, { tags: ['post-43'] }));
    store.insert(entry('/users/1', 10, { tags: ['post-43', 'user-1'] }));
    store.insert(entry('/users/2', 10));
    assert.equal(store.invalidate(parseInvalidation('http://b.com/posts/42')[0]!), 1);
    assert.equal(store.invalidate(parseInvalidation('/posts/42')[0]!), 1);
    assert.equal(store.invalidate(parseInvalidation('tag:post-43')[0]!), 2);
    assert.equal(store.entryCount, 1);
    assert.equal(store.invalidate(parseInvalidation('/users/*')[0]!), 1);
    store.insert(entry('/a', 10));
    store.insert(entry('/b', 10));
    assert.equal(store.invalidate(parseInvalidation('*')[0]!), 2);
    assert.equal(store.entryCount, 0);
    assert.equal(store.usedBytes, 0);
    // The store still works after being cleared.
    const again = entry('/a', 10);
    store.insert(again);
    assert.equal(store.lookupKey('http://a.com/a', []), again);
  });

  it('removing an entry twice, or one never stored, changes nothing', () => {
    const store = new MemoryStore(1_000_000, 100_000);
    const e = entry('/x', 10);
    store.insert(e);
    store.remove(e);
    store.remove(e);
    store.remove(entry('/y', 10));
    assert.equal(store.entryCount, 0);
    assert.equal(store.usedBytes, 0);
  });

  it('keeps its accounting exact through a random mix of inserts, hits, removals and invalidations', () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const store = new MemoryStore(200_000, 50_000);
    const live = new Map<string, CachedResponse>();
    for (let i = 0; i < 5000; i++) {
      const path = `/p${random(300)}`;
      const op = random(10);
      if (op < 6) {
        const e = entry(path, random(20_000));
        if (store.insert(e)) live.set(e.key, e);
      } else if (op < 8) store.lookupKey(`http://a.com${path}`, []);
      else if (op < 9) store.invalidate({ kind: 'path', host: 'a.com', path, query: '' });
      else store.invalidate(parseInvalidation(`/p${random(30)}*`)[0]!);
      assert.ok(store.usedBytes <= store.capacityBytes);
    }
    let sum = 0;
    let count = 0;
    for (const e of live.values()) {
      if (e.inMemory) {
        sum += e.bytes;
        count++;
      }
    }
    assert.equal(store.usedBytes, sum);
    assert.equal(store.entryCount, count);
  });
});
