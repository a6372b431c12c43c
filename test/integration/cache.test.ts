/**
 * The response cache through the real CLI: real uWebSockets.js ingress, real
 * upstreams that count their requests, real Redis and PostgreSQL (under names
 * unique to the run), real clients. What the cache rules are is tested in
 * test/cache/; here: that they hold through the real process, across proxy
 * threads and processes, and when Redis or PostgreSQL fail.
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Client, request } from 'undici';
import { listenerApplicationName } from '../../src/cache/pg-listener.js';
import { issueCertificate, makeTestCa } from '../helpers/certificates.js';
import { httpGet, httpsGet } from '../helpers/https-client.js';
import { reply, startCountingUpstream, type CountingUpstream } from '../helpers/counting-upstream.js';
import { POSTGRES_URL, sql, uniqueName } from '../helpers/postgres.js';
import { deletePrefix, SHARED_REDIS_URL, startOwnRedis, uniquePrefix } from '../helpers/redis-server.js';
import { runCli, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 60_000 };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

/** A config with the cache on, one upstream `app` and a catch-all route; `extra` adds sections. */
function cacheConfig(upstream: CountingUpstream, options: { threads?: number; cache?: string; extra?: string; log?: boolean; middleware?: string } = {}): string {
  return writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
worker_threads = ${options.threads ?? 1}

[middleware]
log_requests = ${options.log ?? false}
admin_token = "purge-secret"
${options.middleware ?? ''}

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "app"

[cache]
size_bytes = 8388608
${options.cache ?? ''}
${options.extra ?? ''}
`);
}

async function run(configFile: string, env: Record<string, string> = {}): Promise<RunningWarpdrive> {
  const wd = await startWarpdrive(configFile, { env });
  cleanups.push(() => wd.stop());
  return wd;
}

async function upstreamWith(handler: Parameters<typeof startCountingUpstream>[0]): Promise<CountingUpstream> {
  const upstream = await startCountingUpstream(handler);
  cleanups.push(() => upstream.close());
  return upstream;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const response = await request(url, { method: method as 'GET', headers });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

/** GET with a gzip-decoded body (when the answer is gzip-encoded). */
async function getDecoded(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await request(url, { headers });
  const raw = Buffer.from(await response.body.arrayBuffer());
  const body = response.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
  return { status: response.statusCode, headers: response.headers, body };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Milliseconds from `started` until `gone()` first answers true, polled every
 * millisecond. Each caller runs its own loop, so probes of one thread or process
 * run concurrently with another's and one's latency never adds to the other's figure.
 */
async function msUntil(what: string, started: number, gone: () => Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!(await gone())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return performance.now() - started;
}

/**
 * Keep-alive connections known by the proxy thread that took them: each sends
 * `/probe?c=N` and the access log says which thread served it. Opens connections
 * until every one of `threads` threads has at least `perThread`.
 */
async function connectionsPerThread(wd: RunningWarpdrive, threads: number, perThread = 1): Promise<Map<number, Client[]>> {
  const byThread = new Map<number, Client[]>();
  for (let c = 0; c < 200; c++) {
    const client = new Client(wd.url, { pipelining: 1 });
    cleanups.push(() => client.close());
    const answer = await client.request({ path: `/probe?c=${c}`, method: 'GET' });
    await answer.body.text();
    let thread: number | undefined;
    await until('access-log line', () => {
      const m = new RegExp(`"GET /probe\\?c=${c} HTTP/1\\.1" .* thread=(\\d+)\\n`).exec(wd.output());
      if (m) thread = Number(m[1]);
      return m !== null;
    });
    const list = byThread.get(thread!) ?? [];
    list.push(client);
    byThread.set(thread!, list);
    if (byThread.size === threads && [...byThread.values()].every((l) => l.length >= perThread)) return byThread;
  }
  assert.fail('200 connections did not reach every thread');
}

/** A request that the cache answers or refuses (504), never sending it to the application. */
const onlyIfCached = { 'cache-control': 'only-if-cached' };

async function getOn(client: Client, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await client.request({ path, method: 'GET', headers });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

const cacheStatus = (answer: Answer): string => String(answer.headers['cache-status']);

describe('the response cache through warpdrive', () => {
  test('hits are answered by warpdrive: GET, HEAD from the stored GET, a client 304, with Age and Cache-Status', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60', etag: '"v1"' }));
    const wd = await run(cacheConfig(upstream));
    const first = await get(`${wd.url}/page`);
    assert.equal(first.body, 'response 1');
    assert.equal(cacheStatus(first), 'warpdrive; fwd=uri-miss; fwd-status=200; stored');
    const hit = await get(`${wd.url}/page`);
    assert.equal(hit.body, 'response 1');
    assert.match(cacheStatus(hit), /^warpdrive; hit; ttl=(59|60)$/);
    assert.equal(hit.headers.age, '0');
    assert.equal(hit.headers['content-length'], String('response 1'.length));
    assert.equal(typeof hit.headers.date, 'string', 'exactly one Date (uWS writes it)');
    const head = await get(`${wd.url}/page`, {}, 'HEAD');
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String('response 1'.length));
    const notModified = await get(`${wd.url}/page`, { 'if-none-match': '"v1"' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"v1"');
    assert.equal(upstream.count(), 1);
  });

  test('a hit carries the header bytes the upstream sent, as the miss did (UTF-8 in a value included)', bounded, async () => {
    // Node writes a header string as Latin-1 bytes when the head goes out on its own (a
    // Buffer body): this one leaves as the UTF-8 bytes of "Zürich €".
    const sent = Buffer.from('Zürich €', 'utf8');
    const upstream = await upstreamWith((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 4, 'x-city': sent.toString('latin1') });
      res.end(Buffer.from('city'));
    });
    const wd = await run(cacheConfig(upstream));
    const miss = await get(`${wd.url}/city`);
    const hit = await get(`${wd.url}/city`);
    assert.match(cacheStatus(hit), /; hit;/);
    assert.equal(hit.headers['x-city'], miss.headers['x-city'], 'the same bytes from the cache as from the upstream');
    // undici hands header bytes over as Latin-1 characters: the same bytes as sent.
    assert.equal(Buffer.from(String(miss.headers['x-city']), 'latin1').toString('hex'), sent.toString('hex'));
    assert.equal(upstream.count(), 1);
  });

  test('a route with cache = false is neither looked up nor stored', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    const wd = await run(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
[upstreams.app]
${upstream.toml}
[[routes]]
path_prefix = "/admin"
cache = false
upstream = "app"
[[routes]]
path_prefix = "/"
upstream = "app"
[cache]
`),
    );
    await get(`${wd.url}/admin/x`);
    const again = await get(`${wd.url}/admin/x`);
    assert.equal(again.headers['cache-status'], undefined);
    assert.equal(again.body, 'response 2');
    await get(`${wd.url}/x`);
    assert.equal((await get(`${wd.url}/x`)).body, 'response 3');
  });

  test('a large response streams to the client while it is stored, then is served whole from memory', bounded, async () => {
    const body = Buffer.alloc(512 * 1024, 'x').toString();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const upstream = await upstreamWith((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.length });
      res.write(body.slice(0, 1000));
      void released.then(() => res.end(body.slice(1000)));
    });
    const wd = await run(cacheConfig(upstream));
    const response = await request(`${wd.url}/big`);
    const iterator = response.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.ok(first.value.length > 0, 'the first bytes arrive before the upstream finished');
    release();
    let received = first.value.length as number;
    for (let chunk = await iterator.next(); !chunk.done; chunk = await iterator.next()) received += chunk.value.length;
    assert.equal(received, body.length);
    assert.equal((await get(`${wd.url}/big`)).body, body);
    assert.equal(upstream.count(), 1);
  });

  test('200 concurrent misses on one key send one request upstream', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => setTimeout(() => reply(res, n, { 'cache-control': 'max-age=60' }), 300));
    const wd = await run(cacheConfig(upstream));
    const answers = await Promise.all(Array.from({ length: 200 }, () => get(`${wd.url}/hot`)));
    assert.ok(answers.every((a) => a.status === 200 && a.body === 'response 1'));
    assert.equal(upstream.count(), 1);
  });

  test('stale-if-error: with the upstream down, the stale entry is served', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=1, stale-if-error=300' }));
    const wd = await run(cacheConfig(upstream));
    await get(`${wd.url}/sie`);
    await upstream.close();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const answer = await get(`${wd.url}/sie`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'response 1');
    assert.match(cacheStatus(answer), /^warpdrive; fwd=stale; fwd-status=502/);
  });

  test('stale-while-revalidate: the stale entry is answered at once and refreshed in the background through the route', bounded, async () => {
    const upstream = await upstreamWith((req, res, n) => reply(res, n, { 'cache-control': 'max-age=1, stale-while-revalidate=60', 'x-forwarded-for-seen': String(req.headers['x-forwarded-for']) }));
    const wd = await run(cacheConfig(upstream));
    await get(`${wd.url}/swr`);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const stale = await get(`${wd.url}/swr`);
    assert.equal(stale.body, 'response 1');
    assert.match(cacheStatus(stale), /^warpdrive; hit; ttl=-/);
    await until('the background request reached the upstream', () => upstream.count() === 2);
    // It went the way requests of the route go: with the forwarded headers.
    assert.equal(upstream.received[1]!.headers['x-forwarded-for'], '127.0.0.1');
    await until('the refreshed entry is served', async () => (await get(`${wd.url}/swr`)).body === 'response 2');
    assert.equal(upstream.count(), 2);
  });

  test('with two proxy threads, an unsafe request on one invalidates the URL on both', bounded, async () => {
    let version = 1;
    const upstream = await upstreamWith((req, res, n) => {
      if (req.method === 'POST') version++;
      reply(res, n, { 'cache-control': 'max-age=600', 'x-version': String(version) });
    });
    const wd = await run(cacheConfig(upstream, { threads: 2, log: true }));
    const threads = await connectionsPerThread(wd, 2);
    // Each thread fetches /item once and then holds it.
    for (const [, [client]] of threads) await getOn(client!, '/item');
    for (const [, [client]] of threads) assert.match(cacheStatus(await getOn(client!, '/item')), /^warpdrive; hit/);
    assert.equal(upstream.count('/item'), 2);
    const [first] = threads.get(0)!;
    const post = await first!.request({ path: '/item', method: 'POST', body: 'x' });
    await post.body.text();
    for (const [thread, [client]] of threads) {
      await until(`thread ${thread} drops /item`, async () => (await getOn(client!, '/item')).headers['x-version'] === '2');
    }
  });
});

describe('the cache with compression and X-Accel-Redirect', () => {
  const json = (n: number): string => JSON.stringify({ n, items: Array.from({ length: 100 }, (_, i) => ({ id: i, title: `item ${i}` })) });

  function setupFiles(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-cache-files-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'report.bin'), 'file contents, version 1');
    return dir;
  }

  function middleware(dir: string): string {
    return `gzip_compression_enabled = true\nx_sendfile_enabled = true\nx_accel_mappings = [{ prefix = "/private/", root = ${JSON.stringify(dir)} }]`;
  }

  test('the compressed bytes are stored per Accept-Encoding, and hits are not compressed again', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60', etag: '"j1"' });
      res.end(json(n));
    });
    const wd = await run(cacheConfig(upstream, { middleware: middleware(setupFiles()) }));
    const gzipped = await getDecoded(`${wd.url}/api`, { 'accept-encoding': 'gzip' });
    assert.equal(gzipped.headers['content-encoding'], 'gzip');
    assert.equal(gzipped.headers.vary, 'Accept-Encoding');
    assert.equal(gzipped.body, json(1));
    const gzipHit = await getDecoded(`${wd.url}/api`, { 'accept-encoding': 'gzip' });
    assert.match(cacheStatus(gzipHit), /^warpdrive; hit/);
    assert.equal(gzipHit.headers['content-encoding'], 'gzip');
    assert.equal(gzipHit.headers.etag, 'W/"j1"', 'the weakened ETag the client first got');
    assert.equal(gzipHit.body, json(1));
    // A client that takes no gzip is another variant: never the compressed bytes.
    const plain = await getDecoded(`${wd.url}/api`);
    assert.match(cacheStatus(plain), /fwd=vary-miss/);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body, json(2));
    const plainHit = await getDecoded(`${wd.url}/api`);
    assert.match(cacheStatus(plainHit), /^warpdrive; hit/);
    assert.equal(plainHit.headers['content-encoding'], undefined);
    assert.equal(plainHit.body, json(2));
    assert.equal(upstream.count(), 2);
  });

  test('a file named by X-Accel-Redirect is stored as the client got it; the internal header never is', bounded, async () => {
    const dir = setupFiles();
    const upstream = await upstreamWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60', 'x-accel-redirect': '/private/report.bin' });
      res.end();
    });
    const wd = await run(cacheConfig(upstream, { middleware: middleware(dir) }));
    const first = await get(`${wd.url}/download`);
    assert.equal(first.body, 'file contents, version 1');
    const hit = await get(`${wd.url}/download`);
    assert.match(cacheStatus(hit), /^warpdrive; hit/);
    assert.equal(hit.body, 'file contents, version 1');
    assert.equal(hit.headers['x-accel-redirect'], undefined);
    assert.equal(upstream.count(), 1);
  });

  test('stale-while-revalidate on such a route: the background request only refreshes on a 304; a changed response is fetched through the filters', bounded, async () => {
    const dir = setupFiles();
    const upstream = await upstreamWith((req, res, n) => {
      if (req.url === '/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=1, stale-while-revalidate=60', 'x-accel-redirect': '/private/report.bin' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=1, stale-while-revalidate=60', etag: `"j${n}"` });
      res.end(json(n));
    });
    const wd = await run(cacheConfig(upstream, { middleware: middleware(dir) }));
    assert.equal((await getDecoded(`${wd.url}/api`, { 'accept-encoding': 'gzip' })).body, json(1));
    assert.equal((await get(`${wd.url}/download`)).body, 'file contents, version 1');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    writeFileSync(path.join(dir, 'report.bin'), 'file contents, version 2');
    // Stale answers at once; the background requests get full responses (a new ETag; a file to send).
    const stale = await getDecoded(`${wd.url}/api`, { 'accept-encoding': 'gzip' });
    assert.equal(stale.headers['content-encoding'], 'gzip');
    assert.equal(stale.body, json(1));
    assert.equal((await get(`${wd.url}/download`)).body, 'file contents, version 1');
    await until('both background requests answered', () => upstream.count() === 4);
    // Neither raw response was stored (uncompressed JSON for a gzip variant; an empty body naming a file):
    // the next requests go through compression and X-Accel-Redirect.
    await until('the stale /api is gone', async () => {
      const next = await getDecoded(`${wd.url}/api`, { 'accept-encoding': 'gzip' });
      assert.equal(next.headers['content-encoding'], 'gzip');
      return next.body !== json(1);
    });
    const download = await get(`${wd.url}/download`);
    assert.equal(download.body, 'file contents, version 2');
    assert.equal(download.headers['x-accel-redirect'], undefined);
  });
});

describe('the cache over HTTPS', () => {
  test('entries are per scheme; HTTPS hits carry HSTS; a plain-HTTP request redirected to https:// never reaches the cache', bounded, async () => {
    const ca = makeTestCa();
    const pair = issueCertificate(ca, ['a.test']);
    const upstream = await upstreamWith((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=60' }));
    const wd = await run(
      writeConfig(`
[server]
http_port = 0
https_port = 0
bind_address = "127.0.0.1"
[tls]
enabled = true
hsts_max_age_secs = 3600
[[tls.certificates]]
domains = ["a.test"]
cert_file = "${pair.certFile}"
key_file = "${pair.keyFile}"
[upstreams.app]
${upstream.toml}
[[routes]]
path_prefix = "/up"
https_redirect = false
upstream = "app"
[[routes]]
path_prefix = "/"
upstream = "app"
[cache]
`),
    );
    const httpsPort = Number(/listening on https:\/\/\S+:(\d+)/.exec(wd.output())![1]);
    assert.equal((await httpsGet(httpsPort, 'a.test', '/page', ca.certPem)).body, 'response 1');
    const hit = await httpsGet(httpsPort, 'a.test', '/page', ca.certPem);
    assert.equal(hit.body, 'response 1');
    assert.match(String(hit.headers['cache-status']), /^warpdrive; hit/);
    assert.equal(hit.headers['strict-transport-security'], 'max-age=3600');
    const redirected = await httpGet(wd.port, 'a.test', '/page');
    assert.equal(redirected.status, 308);
    assert.equal(redirected.headers['cache-status'], undefined);
    assert.equal(upstream.count(), 1);

    // A route served on both schemes: two entries, and HSTS only on the https one.
    assert.equal((await httpsGet(httpsPort, 'a.test', '/up', ca.certPem)).body, 'response 2');
    const plain = await httpGet(wd.port, 'a.test', '/up');
    assert.equal(plain.body, 'response 3');
    assert.match(String(plain.headers['cache-status']), /fwd=uri-miss/);
    const plainHit = await httpGet(wd.port, 'a.test', '/up');
    assert.equal(plainHit.body, 'response 3');
    assert.match(String(plainHit.headers['cache-status']), /^warpdrive; hit/);
    assert.equal(plainHit.headers['strict-transport-security'], undefined);
    assert.equal((await httpsGet(httpsPort, 'a.test', '/up', ca.certPem)).headers['strict-transport-security'], 'max-age=3600');
    assert.equal(upstream.count(), 3);
  });
});

describe('invalidation by PostgreSQL', () => {
  interface Table {
    readonly name: string;
    readonly channel: string;
    readonly app: pg.Client;
  }

  /** A table whose UPDATE trigger notifies `/item` on a channel of its own; an open application connection. */
  async function table(): Promise<Table> {
    const name = uniqueName('items');
    const channel = uniqueName('inval');
    await sql(`
      CREATE TABLE ${name} (id integer PRIMARY KEY, version integer);
      INSERT INTO ${name} VALUES (1, 1);
      CREATE FUNCTION ${name}_notify() RETURNS trigger AS $$
      BEGIN PERFORM pg_notify('${channel}', '/item'); RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER ${name}_changed AFTER UPDATE ON ${name} FOR EACH ROW EXECUTE FUNCTION ${name}_notify();
    `);
    cleanups.push(() => sql(`DROP TABLE ${name}; DROP FUNCTION ${name}_notify();`));
    const app = new pg.Client({ connectionString: POSTGRES_URL });
    await app.connect();
    cleanups.push(() => app.end());
    return { name, channel, app };
  }

  /** An upstream serving the row's version, read from the database (on its own open connection) as the application would. */
  async function versionedUpstream(t: Table): Promise<CountingUpstream> {
    const db = new pg.Client({ connectionString: POSTGRES_URL });
    await db.connect();
    cleanups.push(() => db.end());
    return upstreamWith((req, res, n) => {
      if (req.url?.startsWith('/probe')) return reply(res, n, { 'cache-control': 'no-store' });
      void db.query(`SELECT version FROM ${t.name} WHERE id = 1`).then((result) => reply(res, n, { 'cache-control': 'max-age=600', 'x-version': String(result.rows[0].version) }));
    });
  }

  function postgresSection(t: Table): string {
    return `[postgres]\nurl = "${POSTGRES_URL}"\nchannel = "${t.channel}"\n`;
  }

  test('a NOTIFY from a real trigger invalidates both proxy threads within 100 ms', bounded, async (t) => {
    const tbl = await table();
    const upstream = await versionedUpstream(tbl);
    const wd = await run(cacheConfig(upstream, { threads: 2, log: true, extra: postgresSection(tbl) }));
    await until('listening', () => /listening on "wd_inval/.test(wd.output()));
    const threads = await connectionsPerThread(wd, 2);
    for (const [, [client]] of threads) assert.equal((await getOn(client!, '/item')).headers['x-version'], '1');
    for (const [, [client]] of threads) assert.match(cacheStatus(await getOn(client!, '/item')), /^warpdrive; hit/);

    // Probing with only-if-cached measures the invalidation itself: a thread answers 504 the
    // moment its entry is gone, without a trip to the application.
    const started = performance.now();
    await tbl.app.query(`UPDATE ${tbl.name} SET version = 2 WHERE id = 1`);
    const seen = new Map<number, number>(
      await Promise.all(
        [...threads].map(async ([thread, [client]]) => {
          const ms = await msUntil(`thread ${thread} dropped the entry`, started, async () => (await getOn(client!, '/item', onlyIfCached)).status === 504);
          return [thread, ms] as const;
        }),
      ),
    );
    for (const [, [client]] of threads) assert.equal((await getOn(client!, '/item')).headers['x-version'], '2');
    const slowest = Math.max(...seen.values());
    t.diagnostic(`invalidated on thread 0 after ${seen.get(0)!.toFixed(1)} ms, thread 1 after ${seen.get(1)!.toFixed(1)} ms`);
    assert.ok(slowest < 100, `the slower thread served the new version ${slowest.toFixed(1)} ms after the UPDATE`);
  });

  test('two warpdrive processes share Redis, and one NOTIFY invalidates both within 100 ms', bounded, async (t) => {
    const tbl = await table();
    const upstream = await versionedUpstream(tbl);
    const prefix = uniquePrefix('twonodes');
    cleanups.push(() => deletePrefix(prefix));
    const config = cacheConfig(upstream, { cache: `redis_url = "${SHARED_REDIS_URL}"\nredis_key_prefix = "${prefix}"\nredis_timeout_secs = 0.5`, extra: postgresSection(tbl) });
    const one = await run(config);
    const two = await run(config);
    for (const wd of [one, two]) await until('listening and connected', () => /listening on "wd_inval/.test(wd.output()) && /Redis at .* connected/.test(wd.output()));

    assert.equal((await get(`${one.url}/item`)).headers['x-version'], '1');
    const raw = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => raw.disconnect());
    await until('stored in Redis', async () => (await raw.exists(`${prefix}e:http://127.0.0.1/item`)) === 1);
    const shared = await get(`${two.url}/item`);
    assert.match(cacheStatus(shared), /detail=redis/);
    assert.equal(upstream.count('/item'), 1);

    const started = performance.now();
    await tbl.app.query(`UPDATE ${tbl.name} SET version = 2 WHERE id = 1`);
    const seen = new Map<string, number>(
      await Promise.all(
        ([['one', one], ['two', two]] as const).map(async ([name, wd]) => {
          const ms = await msUntil(`process ${name} dropped the entry`, started, async () => (await get(`${wd.url}/item`, onlyIfCached)).status === 504);
          return [name, ms] as const;
        }),
      ),
    );
    for (const wd of [one, two]) assert.equal((await get(`${wd.url}/item`)).headers['x-version'], '2');
    t.diagnostic(`process one after ${seen.get('one')!.toFixed(1)} ms, process two after ${seen.get('two')!.toFixed(1)} ms`);
    assert.ok(Math.max(...seen.values()) < 100);
  });

  test('after pg_terminate_backend it reconnects, purges and logs it: no stale entry is served', bounded, async () => {
    const tbl = await table();
    const upstream = await versionedUpstream(tbl);
    const wd = await run(cacheConfig(upstream, { extra: postgresSection(tbl) }));
    await until('listening', () => /listening on "wd_inval/.test(wd.output()));
    await get(`${wd.url}/item`);
    assert.match(cacheStatus(await get(`${wd.url}/item`)), /^warpdrive; hit/);

    const backend = await sql('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [listenerApplicationName(tbl.channel)]);
    await sql('SELECT pg_terminate_backend($1)', [backend.rows[0].pid]);
    await until('the loss is logged', () => /not listening on "wd_inval/.test(wd.output()));
    // This change's notification is lost: nobody listens.
    await tbl.app.query(`UPDATE ${tbl.name} SET version = 2 WHERE id = 1`);
    await until('reconnected and purged', () => /listening again on "wd_inval.*the whole cache is purged/.test(wd.output()));
    await until('the purge has reached memory', async () => (await get(`${wd.url}/item`)).headers['x-version'] === '2', 5000);
  });

  test('warpdrive purge sends a NOTIFY with [postgres]', bounded, async () => {
    const tbl = await table();
    const upstream = await versionedUpstream(tbl);
    const file = cacheConfig(upstream, { extra: postgresSection(tbl) });
    const wd = await run(file);
    await until('listening', () => /listening on "wd_inval/.test(wd.output()));
    await get(`${wd.url}/item`);
    await get(`${wd.url}/item`);
    const result = await runCli(['purge', '/item', '--config', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /sent NOTIFY "\/item" on "wd_inval/);
    await until('purged', async () => !/^warpdrive; hit/.test(cacheStatus(await get(`${wd.url}/item`))));
    assert.equal(upstream.count('/item'), 2);
  });
});

describe('purge and check by hand', () => {
  test('warpdrive purge without [postgres] uses the admin endpoint of the running process', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=600', 'cache-tag': 'posts' }));
    const file = cacheConfig(upstream);
    const wd = await run(file);
    await get(`${wd.url}/posts/1`);
    await get(`${wd.url}/posts/2`);
    const result = await runCli(['purge', 'tag:posts', '--config', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /purged "tag:posts" in warpdrive pid \d+: 2 entries/);
    assert.equal((await get(`${wd.url}/posts/1`)).body, 'response 3');
  });

  test('the admin endpoint wants POST, the admin token and a valid pattern', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=600' }));
    const wd = await run(cacheConfig(upstream));
    const purge = `${wd.url}/.warpdrive/purge`;
    assert.equal((await get(purge)).status, 405);
    assert.equal((await request(purge, { method: 'POST', body: '*' })).statusCode, 401);
    assert.equal((await request(purge, { method: 'POST', body: '*', headers: { 'x-admin-token': 'wrong-secret' } })).statusCode, 401);
    const bad = await request(purge, { method: 'POST', body: 'posts/1', headers: { 'x-admin-token': 'purge-secret' } });
    assert.equal(bad.statusCode, 400);
    assert.match(await bad.body.text(), /expected \*, a path/);
    const ok = await request(purge, { method: 'POST', body: '/x /y', headers: { 'x-admin-token': 'purge-secret' } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(JSON.parse(await ok.body.text()).purged, ['/x', '/y']);
    assert.equal(upstream.count(), 0, 'the endpoint never reaches the application');
  });

  test('purge refuses bad patterns (exit 2) and a cache it cannot reach (exit 1)', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => reply(res, n));
    const file = cacheConfig(upstream);
    const bad = await runCli(['purge', 'posts/1', '--config', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected \*, a path starting with "\/"/);
    const notRunning = await runCli(['purge', '/x', '--config', file]);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, /no running warpdrive was started with/);
  });

  test('check says what the cache will do, and whether Redis and PostgreSQL answer', bounded, async () => {
    const upstream = await upstreamWith((_req, res, n) => reply(res, n));
    const file = cacheConfig(upstream, {
      cache: `redis_url = "${SHARED_REDIS_URL}"`,
      extra: `[postgres]\nurl = "postgres://postgres@127.0.0.1:1/test"\nchannel = "c"\n`,
    });
    const result = await runCli(['check', '--config', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^cache: 8 MiB in memory, objects up to 1 MiB/m);
    assert.match(result.stdout, /^ {2}Redis redis:\/\/127\.0\.0\.1:6379\/0: reachable$/m);
    assert.match(result.stdout, /^ {2}PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:1\/test: NOT reachable now \(.*ECONNREFUSED.*\)/m);
  });
});

describe('Redis failing under load', () => {
  test('killed and restarted mid-load: zero failed requests, memory serves meanwhile', bounded, async () => {
    const own = await startOwnRedis();
    cleanups.push(() => own.stop());
    const upstream = await upstreamWith((_req, res, n) => reply(res, n, { 'cache-control': 'max-age=600' }));
    const wd = await run(cacheConfig(upstream, { cache: `redis_url = "${own.url}"\nredis_key_prefix = "${uniquePrefix('cli-kill')}"` }));
    await until('connected', () => /Redis at .* connected/.test(wd.output()));
    const statuses: number[] = [];
    let stop = false;
    const load = async (worker: number): Promise<void> => {
      for (let i = 0; !stop && i < 50_000; i++) statuses.push((await get(`${wd.url}/k/${(worker * 3 + i) % 10}`)).status);
    };
    const workers = Array.from({ length: 4 }, (_, w) => load(w));
    await until('load running', () => statuses.length > 200);
    await own.kill();
    await until('the outage is logged', () => /is unreachable/.test(wd.output()));
    const during = statuses.length;
    await until('served during the outage', () => statuses.length > during + 300);
    await own.restart();
    await until('Redis back', () => /is back/.test(wd.output()));
    const afterwards = statuses.length;
    await until('served after the restart', () => statuses.length > afterwards + 200);
    stop = true;
    await Promise.all(workers);
    assert.deepEqual([...new Set(statuses)], [200], 'every request got 200');
    assert.equal(upstream.count(), 10);
    assert.equal(wd.output().match(/is unreachable/g)?.length, 1, 'the outage is logged once');
  });
});
