/**
 * The Redis tier against the real shared Redis (127.0.0.1:6379), each run under
 * its own key prefix, removed afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { CachedResponse } from '../../src/cache/cached-response.js';
import { parseInvalidation } from '../../src/cache/invalidation-pattern.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis-server.js';

const prefix = uniquePrefix('l2');
let writer: RedisStore;
let reader: RedisStore;
const raw = new Redis(SHARED_REDIS_URL);

function entry(path: string, options: { host?: string; query?: string; vary?: [string[], string[]]; tags?: string[]; ttlMs?: number; body?: string } = {}): CachedResponse {
  const now = Date.now();
  const host = options.host ?? 'a.com';
  const query = options.query ?? '';
  return new CachedResponse({
    key: `http://${host}${path}${query === '' ? '' : `?${query}`}`, host, path, query,
    varyNames: options.vary?.[0], varyValues: options.vary?.[1],
    status: 200, statusText: '', headers: ['Content-Type', 'text/plain'], body: Buffer.from(options.body ?? `body of ${path}`),
    etag: undefined, lastModifiedMs: NaN, dateMs: now, tags: options.tags ?? [],
    responseTimeMs: now, initialAgeMs: 0, staleAtMs: now + (options.ttlMs ?? 60_000), swrUntilMs: now + (options.ttlMs ?? 60_000), sieUntilMs: now + (options.ttlMs ?? 60_000),
    revalidateAlways: false, omittedHeaders: [],
  });
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail('condition not met within 2 s');
}

async function stored(store: RedisStore, e: CachedResponse, headers: string[] = []): Promise<void> {
  store.store(e);
  await until(async () => (await reader.lookup(e.key, headers)) !== undefined);
}

before(async () => {
  writer = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, timeoutMs: 500 });
  reader = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, timeoutMs: 500 });
  await until(async () => writer.usable && reader.usable);
});

after(async () => {
  await writer.close();
  await reader.close();
  await deletePrefix(prefix);
  raw.disconnect();
});

describe('RedisStore', () => {
  it('an entry stored by one client is found by another, intact, with a TTL of its usable life', async () => {
    const e = entry('/shared', { ttlMs: 30_000 });
    await stored(writer, e);
    const found = await reader.lookup(e.key, []);
    assert.ok(found);
    assert.equal(found.body.toString(), 'body of /shared');
    const ttl = await raw.pttl(`${prefix}e:${e.key}`);
    assert.ok(ttl > 25_000 && ttl <= 30_000, `TTL ${ttl}`);
  });

  it('entries that can no longer be used are not written', async () => {
    const e = entry('/dead', { ttlMs: -1 });
    writer.store(e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await raw.exists(`${prefix}e:${e.key}`), 0);
  });

  it('variants are found by the request\'s Vary values, and only by them', async () => {
    const en = entry('/v', { vary: [['accept-language'], ['en']], body: 'english' });
    const de = entry('/v', { vary: [['accept-language'], ['de']], body: 'deutsch' });
    await stored(writer, en, ['accept-language', 'en']);
    await stored(writer, de, ['accept-language', 'de']);
    assert.equal((await reader.lookup(en.key, ['accept-language', 'en']))?.body.toString(), 'english');
    assert.equal((await reader.lookup(en.key, ['accept-language', 'de']))?.body.toString(), 'deutsch');
    assert.equal(await reader.lookup(en.key, ['accept-language', 'fr']), undefined);
    assert.equal(await reader.lookup(en.key, []), undefined);
  });

  it('invalidates by path (any host and query, or only the given ones), tag, prefix and everything', async () => {
    const a = entry('/posts/1');
    const b = entry('/posts/1', { host: 'b.com' });
    const c = entry('/posts/1', { query: 'page=2' });
    const d = entry('/posts/2', { tags: ['post-2'] });
    const v = entry('/posts/3', { vary: [['x'], ['1']] });
    const u = entry('/users/1', { tags: ['post-2'] });
    for (const e of [a, b, c, d, u]) await stored(writer, e);
    await stored(writer, v, ['x', '1']);

    assert.equal(await writer.invalidate(parseInvalidation('http://b.com/posts/1')), 1);
    assert.equal(await reader.lookup(b.key, []), undefined);
    assert.ok(await reader.lookup(a.key, []));
    assert.equal(await writer.invalidate(parseInvalidation('/posts/1?page=2')), 1);
    assert.ok(await reader.lookup(a.key, []));
    assert.equal(await writer.invalidate(parseInvalidation('/posts/1')), 1);
    assert.equal(await reader.lookup(a.key, []), undefined);

    assert.equal(await writer.invalidate(parseInvalidation('tag:post-2')), 2);
    assert.equal(await reader.lookup(d.key, []), undefined);
    assert.equal(await reader.lookup(u.key, []), undefined);

    assert.equal(await writer.invalidate(parseInvalidation('/posts/*')), 1);
    assert.equal(await reader.lookup(v.key, ['x', '1']), undefined);
    assert.deepEqual(await raw.keys(`${prefix}v:${v.key}*`), []);

    await stored(writer, entry('/x'));
    await writer.invalidate(parseInvalidation('*'));
    assert.deepEqual(await raw.keys(`${prefix}*`), []);
  });

  it('reports up once connected', () => {
    assert.equal(writer.state, 'up');
    assert.equal(writer.usable, true);
  });
});
