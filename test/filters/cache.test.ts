/**
 * The cache rules end to end through the filter, with a real client, a real
 * upstream that counts its requests, and the in-process pipeline stand-in
 * (test/helpers/cache-harness.ts). Each test states, by the upstream's count,
 * which requests reached the application.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { formatHttpDate } from '../helpers/http-date.js';
import type { InvalidationPattern } from '../../src/cache/invalidation-pattern.js';
import { ResponseCache, type SharedTier } from '../../src/cache/response-cache.js';
import { CacheFilter } from '../../src/filters/cache.js';
import { Verdict } from '../../src/pipeline/filter.js';
import { CacheHarness, HttpRevalidator } from '../helpers/cache-harness.js';
import { reply, startCountingUpstream, type CountingHandler, type CountingUpstream } from '../helpers/counting-upstream.js';

const client = new Agent({ connections: 512 });
after(() => client.close());

interface Setup {
  readonly upstream: CountingUpstream;
  readonly harness: CacheHarness;
  readonly cache: ResponseCache;
  readonly url: string;
}

let open: Setup | undefined;
let revalidator: HttpRevalidator | undefined;

afterEach(async () => {
  revalidator?.close();
  revalidator = undefined;
  if (open === undefined) return;
  const { harness, upstream } = open;
  open = undefined;
  await harness.close();
  await upstream.close();
});

async function setup(
  handler: CountingHandler,
  options: {
    defaultTtlMs?: number;
    maxObjectBytes?: number;
    lockTimeoutMs?: number;
    ignore?: { names: string[]; prefixes: string[] };
    /** A route whose responses compression or X-Sendfile reshape: background responses are not storable. */
    reshapedRoute?: boolean;
    shared?: SharedTier;
  } = {},
): Promise<Setup> {
  const upstream = await startCountingUpstream(handler);
  revalidator = new HttpRevalidator(upstream.port, options.reshapedRoute === true ? false : undefined);
  const cache = new ResponseCache({
    capacityBytes: 8 * 1024 * 1024,
    maxObjectBytes: options.maxObjectBytes ?? 1024 * 1024,
    ignoreQueryParams: options.ignore ?? { names: [], prefixes: [] },
    lockTimeoutMs: options.lockTimeoutMs ?? 5000,
    shared: options.shared,
  });
  const harness = new CacheHarness(cache, upstream.port, options.defaultTtlMs, revalidator);
  const url = await harness.listen();
  open = { upstream, harness, cache, url };
  return open;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

async function send(url: string, options: { method?: string; headers?: Record<string, string> | string[]; body?: string } = {}): Promise<Answer> {
  const response = await request(url, { method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body, dispatcher: client });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

const header = (answer: Answer, name: string): string | undefined => {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

describe('freshness: what is served from the cache', () => {
  it('a response with max-age is served from memory until it is stale, with Age and Cache-Status', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60', 'x-app': 'yes' }));
    const first = await send(`${url}/a`);
    assert.equal(first.body, 'response 1');
    assert.match(header(first, 'cache-status')!, /^warpdrive; fwd=uri-miss; fwd-status=200; stored$/);
    const second = await send(`${url}/a`);
    assert.equal(second.body, 'response 1');
    assert.equal(header(second, 'x-app'), 'yes');
    assert.equal(header(second, 'content-type'), 'text/plain');
    assert.equal(header(second, 'age'), '0');
    assert.match(header(second, 'cache-status')!, /^warpdrive; hit; ttl=(59|60)$/);
    assert.equal(upstream.count(), 1);
  });

  it('a response that says nothing about freshness is not cached', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'last-modified': formatHttpDate(Date.now() - 86_400_000) }));
    const first = await send(`${url}/plain`);
    assert.match(header(first, 'cache-status')!, /detail=no-explicit-freshness/);
    assert.equal((await send(`${url}/plain`)).body, 'response 2');
    assert.equal(upstream.count(), 2);
  });

  it('the route default TTL caches responses that carry no freshness of their own', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n), { defaultTtlMs: 60_000 });
    await send(`${url}/d`);
    assert.equal((await send(`${url}/d`)).body, 'response 1');
    assert.equal(upstream.count(), 1);
  });

  it('the upstream Age counts: Age grows from it and a response older than max-age is not reused', async () => {
    const { upstream, url } = await setup((req, res, n) => {
      if (req.url === '/aged') reply(res, n, { 'cache-control': 'max-age=600', age: '30', date: formatHttpDate(Date.now()) });
      else reply(res, n, { 'cache-control': 'max-age=10', age: '15' });
    });
    await send(`${url}/aged`);
    const hit = await send(`${url}/aged`);
    assert.ok(Number(header(hit, 'age')) >= 30, `Age ${header(hit, 'age')}`);
    await send(`${url}/old`);
    await send(`${url}/old`);
    assert.equal(upstream.count('/aged'), 1);
    assert.equal(upstream.count('/old'), 2);
  });

  it('s-maxage wins over max-age for this shared cache', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=0, s-maxage=60' }));
    await send(`${url}/s`);
    await send(`${url}/s`);
    assert.equal(upstream.count(), 1);
  });

  it('a valid CDN-Cache-Control decides for warpdrive, while Cache-Control still reaches the client', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' }));
    await send(`${url}/cdn`);
    const hit = await send(`${url}/cdn`);
    assert.equal(header(hit, 'cache-control'), 'no-store');
    assert.equal(upstream.count(), 1);
  });

  it('query parameters listed as ignored share one entry; others do not', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }), { ignore: { names: ['fbclid'], prefixes: ['utm_'] } });
    await send(`${url}/page?id=1&utm_source=mail`);
    assert.equal((await send(`${url}/page?id=1&fbclid=abc&utm_medium=x`)).body, 'response 1');
    assert.equal((await send(`${url}/page?id=2`)).body, 'response 2');
    assert.equal(upstream.count(), 2);
  });
});

describe('what is never stored', () => {
  for (const [name, headers, detail] of [
    ['private', { 'cache-control': 'private, max-age=60' }, 'private'],
    ['no-store', { 'cache-control': 'max-age=60, no-store' }, 'no-store'],
    ['Set-Cookie', { 'cache-control': 'public, max-age=60', 'set-cookie': 'session=alice' }, 'set-cookie'],
    ['Vary: *', { 'cache-control': 'max-age=60', vary: '*' }, 'vary-star'],
  ] as const) {
    it(`a response with ${name}`, async () => {
      const { upstream, url } = await setup((_req, res, n) => reply(res, n, headers));
      const first = await send(`${url}/x`);
      assert.match(header(first, 'cache-status')!, new RegExp(`detail=${detail}$`));
      const second = await send(`${url}/x`);
      assert.equal(second.body, 'response 2');
      assert.equal(upstream.count(), 2);
    });
  }

  it('the response to a request with Authorization, unless public', async () => {
    const { upstream, url } = await setup((req, res, n) => reply(res, n, { 'cache-control': req.url === '/public' ? 'public, max-age=60' : 'max-age=60' }));
    await send(`${url}/secret`, { headers: { authorization: 'Bearer alice' } });
    assert.equal((await send(`${url}/secret`)).body, 'response 2');
    await send(`${url}/public`, { headers: { authorization: 'Bearer alice' } });
    assert.equal((await send(`${url}/public`)).body, 'response 3');
    assert.equal(upstream.count(), 3);
  });

  it('a Set-Cookie that no-cache="set-cookie" keeps out is never served from the cache', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60, no-cache="set-cookie"', 'set-cookie': `id=${n}` }));
    const first = await send(`${url}/c`);
    assert.equal(header(first, 'set-cookie'), 'id=1');
    const hit = await send(`${url}/c`);
    assert.equal(hit.body, 'response 1');
    assert.equal(header(hit, 'set-cookie'), undefined);
    assert.equal(upstream.count(), 1);
  });

  it('fields named by Connection or no-cache="..." are not served from the cache', async () => {
    const { url } = await setup((_req, res, n) => {
      res.writeHead(200, [['Cache-Control', 'max-age=60, no-cache="x-a"'], ['Connection', 'x-b'], ['X-A', '1'], ['X-B', '2'], ['X-C', '3'], ['Content-Length', '10']].flat());
      res.end(`response ${n}`);
    });
    await send(`${url}/h`);
    const hit = await send(`${url}/h`);
    assert.equal(header(hit, 'x-a'), undefined);
    assert.equal(header(hit, 'x-b'), undefined);
    assert.equal(header(hit, 'x-c'), '3');
  });

  it('a request with Cache-Control: no-store is answered but its response not stored', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    await send(`${url}/r`, { headers: { 'cache-control': 'no-store' } });
    await send(`${url}/r`);
    assert.equal(upstream.count(), 2);
  });

  it('a body larger than max_object_bytes is streamed whole to the client and not stored (known length and chunked)', async () => {
    const big = 'x'.repeat(5000);
    const { upstream, url } = await setup(
      (req, res) => {
        if (req.url === '/chunked') {
          res.writeHead(200, { 'cache-control': 'max-age=60' });
          res.write(big.slice(0, 2500));
          res.end(big.slice(2500));
        } else {
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': big.length });
          res.end(big);
        }
      },
      { maxObjectBytes: 4000 },
    );
    for (const path of ['/fixed', '/chunked']) {
      const first = await send(`${url}${path}`);
      assert.equal(first.body, big);
      assert.equal((await send(`${url}${path}`)).body, big);
      assert.equal(upstream.count(path), 2, path);
    }
    assert.match(header(await send(`${url}/fixed`), 'cache-status')!, /detail=too-large/);
  });
});

describe('Vary', () => {
  it('keeps one entry per Accept-Language, and a request without the header is a separate variant', async () => {
    const { upstream, url } = await setup((req, res, n) => reply(res, n, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }));
    assert.equal((await send(`${url}/v`, { headers: { 'accept-language': 'en' } })).body, 'response 1');
    assert.equal((await send(`${url}/v`, { headers: { 'accept-language': 'de' } })).body, 'response 2');
    assert.equal((await send(`${url}/v`, { headers: { 'accept-language': 'en' } })).body, 'response 1');
    assert.equal((await send(`${url}/v`, { headers: { 'accept-language': 'de' } })).body, 'response 2');
    const none = await send(`${url}/v`);
    assert.equal(none.body, 'response 3');
    assert.match(header(none, 'cache-status')!, /fwd=vary-miss/);
    assert.equal(upstream.count(), 3);
  });
});

describe('validation', () => {
  it('no-cache: stored, but every use is revalidated; a 304 serves the stored body and refreshes its headers', async () => {
    const { upstream, url } = await setup((req, res, n) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'no-cache', 'x-version': `validated ${n}` });
        res.end();
      } else reply(res, n, { 'cache-control': 'no-cache', etag: '"v1"', 'x-version': 'original' });
    });
    assert.equal((await send(`${url}/n`)).body, 'response 1');
    const second = await send(`${url}/n`);
    assert.equal(second.status, 200);
    assert.equal(second.body, 'response 1');
    assert.equal(header(second, 'x-version'), 'validated 2');
    assert.match(header(second, 'cache-status')!, /^warpdrive; fwd=stale; fwd-status=304/);
    assert.equal(upstream.received[1]!.headers['if-none-match'], '"v1"');
    assert.equal(upstream.count(), 2);
  });

  it('a stale must-revalidate entry is revalidated with If-Modified-Since; the 304 makes it fresh again', async () => {
    const lastModified = formatHttpDate(Date.now() - 100_000);
    const { upstream, url } = await setup((req, res, n) => {
      if (req.headers['if-modified-since'] === lastModified) {
        res.writeHead(304, { 'cache-control': 'max-age=60, must-revalidate' });
        res.end();
      } else reply(res, n, { 'cache-control': 'max-age=1, must-revalidate', 'last-modified': lastModified });
    });
    await send(`${url}/m`);
    await sleep(2100);
    const revalidated = await send(`${url}/m`);
    assert.equal(revalidated.body, 'response 1');
    const fresh = await send(`${url}/m`);
    assert.match(header(fresh, 'cache-status')!, /^warpdrive; hit/);
    assert.equal(header(fresh, 'cache-control'), 'max-age=60, must-revalidate');
    assert.equal(upstream.count(), 2);
  });

  it('a new 200 during revalidation replaces the stored response', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'no-cache', etag: `"v${n}"` }));
    await send(`${url}/r`);
    assert.equal((await send(`${url}/r`)).body, 'response 2');
    assert.equal(upstream.received[1]!.headers['if-none-match'], '"v1"');
    assert.equal((await send(`${url}/r`)).body, 'response 3');
    assert.equal(upstream.received[2]!.headers['if-none-match'], '"v2"');
  });

  it('a client\'s If-None-Match / If-Modified-Since is answered 304 from the cache, If-None-Match first', async () => {
    const lastModified = formatHttpDate(Date.now() - 50_000);
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60', etag: '"abc"', 'last-modified': lastModified }));
    await send(`${url}/c`);
    const inm = await send(`${url}/c`, { headers: { 'if-none-match': 'W/"x", "abc"' } });
    assert.equal(inm.status, 304);
    assert.equal(inm.body, '');
    assert.equal(header(inm, 'etag'), '"abc"');
    assert.equal((await send(`${url}/c`, { headers: { 'if-modified-since': lastModified } })).status, 304);
    // If-None-Match that does not match wins over a matching If-Modified-Since.
    assert.equal((await send(`${url}/c`, { headers: { 'if-none-match': '"zzz"', 'if-modified-since': lastModified } })).status, 200);
    assert.equal((await send(`${url}/c`, { headers: { 'if-modified-since': formatHttpDate(Date.now() - 100_000) } })).status, 200);
    assert.equal(upstream.count(), 1);
  });

  it('a client\'s conditional request on a stale entry: the cache revalidates with its own validators, then answers the client\'s', async () => {
    const { upstream, url } = await setup((req, res, n) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' });
        res.end();
      } else reply(res, n, { 'cache-control': 'max-age=0', etag: '"v1"' });
    });
    await send(`${url}/cc`);
    const answer = await send(`${url}/cc`, { headers: { 'if-none-match': '"v1"' } });
    assert.equal(answer.status, 304);
    const other = await send(`${url}/cc`, { headers: { 'if-none-match': '"other"' } });
    assert.equal(other.status, 200);
    assert.equal(other.body, 'response 1');
    assert.equal(upstream.count(), 2);
  });

  it('a browser\'s conditional request on a cold cache fills it: the upstream is asked for the whole response', async () => {
    const { upstream, url } = await setup((req, res, n) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' });
        res.end();
      } else reply(res, n, { 'cache-control': 'max-age=60', etag: '"v1"' });
    });
    const first = await send(`${url}/cold`, { headers: { 'if-none-match': '"v1"' } });
    assert.equal(first.status, 200);
    assert.equal(upstream.received[0]!.headers['if-none-match'], undefined);
    const second = await send(`${url}/cold`, { headers: { 'if-none-match': '"v1"' } });
    assert.equal(second.status, 304);
    assert.equal(upstream.count(), 1);
  });

  it('HEAD is answered from a stored GET, with its Content-Length and no body', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    await send(`${url}/h`);
    const head = await send(`${url}/h`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(header(head, 'content-length'), String('response 1'.length));
    assert.match(header(head, 'cache-status')!, /^warpdrive; hit/);
    assert.equal(upstream.count(), 1);
  });

  it('a HEAD miss goes upstream as HEAD and stores nothing', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    await send(`${url}/hm`, { method: 'HEAD' });
    await send(`${url}/hm`);
    assert.deepEqual(upstream.received.map((r) => r.method), ['HEAD', 'GET']);
  });
});

describe('serving stale (RFC 5861)', () => {
  it('stale-while-revalidate: the stale response is served at once and refreshed in the background', async () => {
    const { upstream, url, cache } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=1, stale-while-revalidate=60' }));
    await send(`${url}/swr`);
    await sleep(2100);
    const stale = await send(`${url}/swr`);
    assert.equal(stale.body, 'response 1');
    assert.match(header(stale, 'cache-status')!, /^warpdrive; hit; ttl=-/);
    // The background request lands; the next request gets its response.
    for (let i = 0; i < 100 && cache.stats.stored < 2; i++) await sleep(10);
    assert.equal((await send(`${url}/swr`)).body, 'response 2');
    assert.equal(upstream.count(), 2);
  });

  it('stale-while-revalidate on a route that compression or X-Sendfile reshape: a 304 refreshes the entry, a 200 only drops it (from Redis too)', async () => {
    const invalidated: InvalidationPattern[][] = [];
    const shared: SharedTier = {
      usable: true,
      lookup: () => Promise.resolve(undefined),
      store: () => undefined,
      invalidate: (patterns) => {
        invalidated.push([...patterns]);
        return Promise.resolve(1);
      },
    };
    const { upstream, url, cache } = await setup(
      (req, res, n) => {
        if (req.url === '/same' && req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=1, stale-while-revalidate=60' });
          res.end();
          return;
        }
        reply(res, n, { 'cache-control': 'max-age=1, stale-while-revalidate=60', etag: req.url === '/same' ? '"v1"' : `"v${n}"` });
      },
      { reshapedRoute: true, shared },
    );
    await send(`${url}/same`);
    await send(`${url}/changed`);
    await sleep(1100);
    // The 304 refreshes the stored response as usual.
    assert.equal((await send(`${url}/same`)).body, 'response 1');
    for (let i = 0; i < 100 && cache.stats.revalidated < 1; i++) await sleep(10);
    const refreshed = await send(`${url}/same`);
    assert.equal(refreshed.body, 'response 1');
    assert.match(header(refreshed, 'cache-status')!, /^warpdrive; hit; ttl=[01]$/);
    // A 200 is not what the route's clients would get: nothing is stored, the old entry goes from every tier.
    assert.equal((await send(`${url}/changed`)).body, 'response 2');
    for (let i = 0; i < 100 && invalidated.length < 1; i++) await sleep(10);
    assert.deepEqual(invalidated, [[{ kind: 'path', host: '127.0.0.1', path: '/changed', query: '' }]]);
    // Two first fills and the refreshed /same.
    assert.equal(cache.stats.stored, 3);
    const next = await send(`${url}/changed`);
    assert.equal(next.body, 'response 5');
    assert.match(header(next, 'cache-status')!, /fwd=uri-miss/);
    assert.equal(upstream.count(), 5);
  });

  it('stale-if-error: a 5xx or an unreachable upstream gets the stale response, until the window closes', async () => {
    const { upstream, url } = await setup((_req, res, n) => {
      if (n === 1) reply(res, n, { 'cache-control': 'max-age=1, stale-if-error=3' });
      else reply(res, n, {}, 503);
    });
    await send(`${url}/sie`);
    await sleep(1100);
    const onError = await send(`${url}/sie`);
    assert.equal(onError.status, 200);
    assert.equal(onError.body, 'response 1');
    assert.match(header(onError, 'cache-status')!, /fwd=stale; fwd-status=503/);
    await sleep(3100);
    const late = await send(`${url}/sie`);
    assert.equal(late.status, 503);
    assert.equal(upstream.count(), 3);
  });

  it('stale-if-error also covers a refused connection', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=1, stale-if-error=60' }));
    await send(`${url}/down`);
    await upstream.close();
    await sleep(1100);
    const answer = await send(`${url}/down`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'response 1');
    assert.match(header(answer, 'cache-status')!, /fwd=stale; fwd-status=502/);
  });

  it('must-revalidate forbids serving stale even when the upstream fails', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=1, must-revalidate, stale-if-error=60', etag: '"x"' }));
    await send(`${url}/mr`);
    await upstream.close();
    await sleep(1100);
    assert.equal((await send(`${url}/mr`)).status, 502);
  });
});

describe('invalidation after unsafe requests (RFC 9111 4.4)', () => {
  it('a successful POST, PUT or DELETE to a URL invalidates it; a failed one does not', async () => {
    const { upstream, url } = await setup((req, res, n) => {
      if (req.method === 'GET') reply(res, n, { 'cache-control': 'max-age=60' });
      else reply(res, n, {}, req.headers['x-fail'] === '1' ? 500 : 200);
    });
    let expected = 0;
    for (const method of ['POST', 'PUT', 'DELETE']) {
      await send(`${url}/item`);
      expected = upstream.count('/item');
      await send(`${url}/item`, { method, headers: { 'x-fail': '1' }, body: 'x' });
      assert.match((await send(`${url}/item`)).headers['cache-status'] as string, /^warpdrive; hit/, `${method} failed: still cached`);
      const changed = await send(`${url}/item`, { method, body: 'x' });
      assert.match(header(changed, 'cache-status')!, /fwd=method/);
      await send(`${url}/item`);
      assert.equal(upstream.count('/item'), expected + 3, method);
    }
  });

  it('a same-host Location / Content-Location is invalidated too, another host\'s is not', async () => {
    const { upstream, url } = await setup((req, res, n) => {
      if (req.method === 'POST') reply(res, n, { location: '/posts/1', 'content-location': 'http://elsewhere.test/posts/2' }, 201);
      else reply(res, n, { 'cache-control': 'max-age=60' });
    });
    await send(`${url}/posts/1`);
    await send(`${url}/posts/2`);
    await send(`${url}/posts`, { method: 'POST', body: 'x' });
    await send(`${url}/posts/1`);
    await send(`${url}/posts/2`);
    assert.equal(upstream.count('/posts/1'), 2);
    assert.equal(upstream.count('/posts/2'), 1);
  });
});

describe('request coalescing', () => {
  it('200 concurrent misses on one URL send one request upstream', async () => {
    const { upstream, url, cache } = await setup((_req, res, n) => setTimeout(() => reply(res, n, { 'cache-control': 'max-age=60' }), 200));
    const answers = await Promise.all(Array.from({ length: 200 }, () => send(`${url}/hot`)));
    assert.equal(upstream.count(), 1);
    assert.ok(answers.every((a) => a.status === 200 && a.body === 'response 1'));
    assert.equal(answers.filter((a) => /collapsed/.test(header(a, 'cache-status')!)).length, 199);
    assert.equal(cache.stats.collapsed, 199);
  });

  it('a response that turns out private does not serialise its users (hit-for-miss)', async () => {
    const { upstream, url } = await setup((_req, res, n) => setTimeout(() => reply(res, n, { 'cache-control': 'private' }), 300));
    // The first request finds the response private; the rest then go upstream at once, not one by one.
    await send(`${url}/me`);
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 20 }, () => send(`${url}/me`)));
    const elapsed = Date.now() - started;
    assert.equal(new Set(answers.map((a) => a.body)).size, 20);
    assert.equal(upstream.count(), 21);
    assert.ok(elapsed < 1500, `20 private requests took ${elapsed} ms: they were serialised`);
  });

  it('waiters whose leader is slower than the lock timeout go upstream themselves', async () => {
    const { upstream, url } = await setup((_req, res, n) => setTimeout(() => reply(res, n, { 'cache-control': 'max-age=60' }), n === 1 ? 1500 : 10), {
      lockTimeoutMs: 200,
    });
    const leader = send(`${url}/slow`);
    await sleep(50);
    const waiters = await Promise.all(Array.from({ length: 5 }, () => send(`${url}/slow`)));
    assert.ok(waiters.every((a) => a.status === 200));
    assert.equal((await leader).body, 'response 1');
    assert.equal(upstream.count(), 6);
  });
});

describe('streaming and odd requests', () => {
  it('a stored response reaches the client while it streams, not after', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { upstream, url } = await setup((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.write('first part;');
      void released.then(() => res.end('second part'));
    });
    const response = await request(`${url}/stream`, { dispatcher: client });
    const iterator = response.body[Symbol.asyncIterator]();
    const firstChunk = await iterator.next();
    assert.equal(String(firstChunk.value), 'first part;');
    release();
    let rest = '';
    for (let chunk = await iterator.next(); !chunk.done; chunk = await iterator.next()) rest += String(chunk.value);
    assert.equal(rest, 'second part');
    assert.equal((await send(`${url}/stream`)).body, 'first part;second part');
    assert.equal(upstream.count(), 1);
  });

  it('a Range request bypasses the cache both ways', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    await send(`${url}/range`);
    const ranged = await send(`${url}/range`, { headers: { range: 'bytes=0-1' } });
    assert.match(header(ranged, 'cache-status')!, /fwd=bypass; fwd-status=200; detail=range/);
    assert.equal(upstream.count(), 2);
  });

  it('only-if-cached is answered 504 when nothing is stored', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    const answer = await send(`${url}/oic`, { headers: { 'cache-control': 'only-if-cached' } });
    assert.equal(answer.status, 504);
    assert.equal(upstream.count(), 0);
    await send(`${url}/oic`);
    assert.equal((await send(`${url}/oic`, { headers: { 'cache-control': 'only-if-cached' } })).status, 200);
  });

  it('a client\'s no-cache or max-age=0 does not reach the application', async () => {
    const { upstream, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    await send(`${url}/reload`);
    await send(`${url}/reload`, { headers: { 'cache-control': 'no-cache', pragma: 'no-cache' } });
    await send(`${url}/reload`, { headers: { 'cache-control': 'max-age=0' } });
    assert.equal(upstream.count(), 1);
  });
});

describe('what the filter leaves alone', () => {
  it('a WebSocket upgrade for a stored URL goes on to the upstream', async () => {
    const { cache, url } = await setup((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    await send(`${url}/cable`);
    assert.equal(cache.memory.entryCount, 1);
    const filter = new CacheFilter(cache, undefined);
    let answered = false;
    const upgrade = {
      method: 'GET', scheme: 'http', host: '127.0.0.1', path: '/cable', query: '', upgradeContext: {},
      upstreamHeaders: ['upgrade', 'websocket'], local: () => undefined, setLocal: () => undefined,
      respond: () => (answered = true), resume: () => undefined, replaceBody: () => undefined, transformBody: () => undefined,
    };
    assert.equal(filter.request(upgrade), Verdict.Continue);
    assert.equal(answered, false);
  });
});
