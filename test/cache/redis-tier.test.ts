/**
 * The Redis tier under the filter: shared between two "nodes" (two caches with
 * their own memory), and failing: a private redis-server killed and restarted
 * mid-load, and one that stops answering (DEBUG SLEEP). Requests must never fail
 * and never wait on Redis beyond its timeout.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { RedisStore } from '../../src/cache/redis-store.js';
import { ResponseCache } from '../../src/cache/response-cache.js';
import { CacheHarness } from '../helpers/cache-harness.js';
import { reply, startCountingUpstream, type CountingUpstream } from '../helpers/counting-upstream.js';
import { deletePrefix, SHARED_REDIS_URL, startOwnRedis, uniquePrefix, type OwnRedis } from '../helpers/redis-server.js';

const client = new Agent({ connections: 64 });
const cleanups: (() => Promise<void> | void)[] = [];
after(() => client.close());
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Node {
  readonly url: string;
  readonly cache: ResponseCache;
  readonly store: RedisStore;
}

async function node(upstream: CountingUpstream, redisUrl: string, prefix: string, timeoutMs = 50): Promise<Node> {
  const store = new RedisStore({ url: redisUrl, keyPrefix: prefix, timeoutMs });
  const cache = new ResponseCache({ capacityBytes: 4 * 1024 * 1024, maxObjectBytes: 65536, ignoreQueryParams: { names: [], prefixes: [] }, lockTimeoutMs: 5000, shared: store });
  const harness = new CacheHarness(cache, upstream.port, undefined);
  const url = await harness.listen();
  cleanups.push(() => store.close(), () => harness.close());
  return { url, cache, store };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function get(url: string): Promise<{ status: number; body: string; cacheStatus: string; ms: number }> {
  const started = performance.now();
  const response = await request(url, { dispatcher: client, headersTimeout: 5000, bodyTimeout: 5000 });
  const body = await response.body.text();
  return { status: response.statusCode, body, cacheStatus: String(response.headers['cache-status']), ms: performance.now() - started };
}

describe('the Redis tier', () => {
  it('is shared: what one node stored, another serves without asking the upstream', async () => {
    const upstream = await startCountingUpstream((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    cleanups.push(() => upstream.close());
    const prefix = uniquePrefix('shared');
    cleanups.push(() => deletePrefix(prefix));
    const a = await node(upstream, SHARED_REDIS_URL, prefix, 500);
    const b = await node(upstream, SHARED_REDIS_URL, prefix, 500);
    await until('both connected', () => a.store.usable && b.store.usable);
    assert.equal((await get(`${a.url}/page`)).body, 'response 1');
    const raw = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => raw.disconnect());
    await until('stored in Redis', async () => (await raw.exists(`${prefix}e:http://127.0.0.1/page`)) === 1);
    const fromRedis = await get(`${b.url}/page`);
    assert.equal(fromRedis.body, 'response 1');
    assert.match(fromRedis.cacheStatus, /^warpdrive; hit; ttl=\d+; detail=redis$/);
    const fromMemory = await get(`${b.url}/page`);
    assert.match(fromMemory.cacheStatus, /^warpdrive; hit; ttl=\d+$/);
    assert.equal(upstream.count(), 1);
    assert.equal(b.cache.stats.redisHits, 1);
  });

  it('killed and restarted mid-load: no request fails, memory serves meanwhile, Redis is used again after', async () => {
    const own: OwnRedis = await startOwnRedis();
    cleanups.push(() => own.stop());
    const upstream = await startCountingUpstream((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    cleanups.push(() => upstream.close());
    const n = await node(upstream, own.url, uniquePrefix('kill'));
    await until('connected', () => n.store.usable);

    const results: { status: number; ms: number }[] = [];
    let stop = false;
    const load = async (worker: number): Promise<void> => {
      for (let i = 0; !stop && i < 20_000; i++) {
        const answer = await get(`${n.url}/item/${(worker * 7 + i) % 20}`);
        results.push({ status: answer.status, ms: answer.ms });
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => load(w));
    await until('load running', () => results.length > 200);
    await own.kill();
    await until('Redis seen as down', () => !n.store.usable, 5000);
    const duringOutage = results.length;
    await until('requests served during the outage', () => results.length > duringOutage + 500);
    await own.restart();
    await until('Redis back in use', () => n.store.usable, 15_000);
    const afterRestart = results.length;
    await until('requests served after the restart', () => results.length > afterRestart + 200);
    stop = true;
    await Promise.all(workers);

    const failed = results.filter((r) => r.status !== 200);
    assert.equal(failed.length, 0, `${failed.length} of ${results.length} requests failed`);
    // Twenty URLs, each fetched once: memory answered everything else, with Redis up or down.
    assert.equal(upstream.count(), 20);
    // And the tier works again: a new entry reaches the restarted Redis.
    await get(`${n.url}/after-restart`);
    const raw = new Redis(own.url);
    cleanups.push(() => raw.disconnect());
    await until('written to the restarted Redis', async () => (await raw.keys('*after-restart*')).length > 0);
  });

  it('stops answering (DEBUG SLEEP): lookups give up after the timeout, then Redis is skipped as slow', async () => {
    const own = await startOwnRedis();
    cleanups.push(() => own.stop());
    const upstream = await startCountingUpstream((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    cleanups.push(() => upstream.close());
    const n = await node(upstream, own.url, uniquePrefix('slow'), 50);
    await until('connected', () => n.store.usable);
    const blocker = new Redis(own.url);
    cleanups.push(() => blocker.disconnect());
    const sleeping = blocker.call('DEBUG', 'SLEEP', '3').catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await get(`${n.url}/miss/${i}`));
    assert.ok(answers.every((a) => a.status === 200));
    const slowest = Math.max(...answers.map((a) => a.ms));
    // Redis is asleep for 3 s; no request waited for it.
    assert.ok(slowest < 1000, `a request took ${slowest.toFixed(0)} ms while Redis slept`);
    assert.equal(n.store.state, 'slow');
    // After the first three timeouts, the remaining misses did not ask Redis at all.
    assert.ok(answers.slice(3).every((a) => a.ms < 45), `skipped lookups still cost time: ${answers.map((a) => a.ms.toFixed(0)).join(', ')}`);
    await sleeping;
  });
});
