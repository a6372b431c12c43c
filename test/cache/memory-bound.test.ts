/**
 * The memory tier holds within `size_bytes`: its own accounting never exceeds
 * the budget, and the memory the process really keeps for it (heap and Buffer
 * backing stores, measured after a full GC) stays within the budget plus a
 * stated margin, under a load of random URLs, sizes, headers, variants and tags.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CachedResponse } from '../../src/cache/cached-response.js';
import { MemoryStore } from '../../src/cache/memory-store.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Real memory the test attributes to the store: JS heap plus Buffer backing stores. */
function retained(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

let seed = 7;
function random(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
}

function randomText(length: number): string {
  let text = '';
  while (text.length < length) text += Math.random().toString(36).slice(2);
  return text.slice(0, length);
}

function randomEntry(i: number): CachedResponse {
  const now = Date.now();
  const path = `/r/${random(50_000)}/${randomText(random(60))}`;
  const headers: string[] = [];
  for (let h = random(12); h >= 0; h--) headers.push(`X-${randomText(4 + random(12))}`, randomText(random(120)));
  // Mostly small bodies, some large: web pages, JSON, images.
  const bodyBytes = random(10) < 8 ? random(4096) : random(64 * 1024);
  const varies = random(5) === 0;
  return new CachedResponse({
    key: `http://h${random(20)}.test${path}`,
    host: `h${random(20)}.test`,
    path,
    query: '',
    varyNames: varies ? ['accept-language'] : undefined,
    varyValues: varies ? [randomText(5)] : undefined,
    status: 200,
    statusText: '',
    headers,
    body: Buffer.alloc(bodyBytes, i & 0xff),
    etag: `"${randomText(16)}"`,
    lastModifiedMs: NaN,
    dateMs: now,
    tags: random(3) === 0 ? [`tag-${random(1000)}`, `tag-${random(1000)}`] : [],
    responseTimeMs: now,
    initialAgeMs: 0,
    staleAtMs: now + 60_000,
    swrUntilMs: now + 60_000,
    sieUntilMs: now + 60_000,
    revalidateAlways: false,
    omittedHeaders: [],
  });
}

describe('memory bound', () => {
  it('32 MiB of budget under 30,000 random inserts: accounting within budget, real memory within budget + 10% + 2 MiB', (t) => {
    const capacity = 32 * 1024 * 1024;
    const baseline = retained();
    const store = new MemoryStore(capacity, 1024 * 1024);
    let inserted = 0;
    for (let i = 0; i < 30_000; i++) {
      if (store.insert(randomEntry(i))) inserted++;
      if (i % 7 === 0) store.lookupKey(`http://h${random(20)}.test/r/${random(50_000)}/`, []);
      assert.ok(store.usedBytes <= capacity, `accounted ${store.usedBytes} > ${capacity} after ${i} inserts`);
    }
    const real = retained() - baseline;
    const margin = capacity * 0.1 + 2 * 1024 * 1024;
    t.diagnostic(`${store.entryCount} entries, accounted ${(store.usedBytes / 2 ** 20).toFixed(1)} MiB, real ${(real / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(inserted > 25_000);
    assert.ok(store.evictions > 10_000, 'the load overflows the budget many times');
    assert.ok(store.usedBytes > capacity * 0.9, 'the store fills its budget');
    assert.ok(real <= capacity + margin, `real memory ${(real / 2 ** 20).toFixed(1)} MiB for a ${capacity / 2 ** 20} MiB budget (${store.entryCount} entries)`);
    store.clear();
    assert.ok(retained() - baseline < 4 * 1024 * 1024, 'clearing gives the memory back');
  });
});
