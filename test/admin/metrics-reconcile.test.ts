/**
 * /metrics of a running warpdrive with two proxy threads, reconciled with traffic
 * this test sent and counted itself: every request on its own connection, so the
 * kernel spreads them over both threads (the access log says which thread served
 * each), and the scrape must show exactly the test's counts, summed over threads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client, request } from 'undici';
import { admin, sample } from '../helpers/admin.js';
import { startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { cleanEnv, outputMatching, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 60_000 };

describe('metrics reconciled with counted traffic, two proxy threads', () => {
  let upstream: TestUpstream;
  let wd: RunningWarpdrive;
  let socket: string;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      req.resume();
      const status = req.url === '/created' ? 201 : req.url === '/missing' ? 404 : req.url === '/boom' ? 500 : 200;
      res.writeHead(status).end('body');
    });
    socket = path.join(tempDir('wd-metrics-'), 'admin.sock');
    const config = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
worker_threads = 2

[middleware]
log_requests = true

[admin]
listen = ${JSON.stringify(socket)}

[upstreams.app]
${upstream.toml}

[upstreams.dead]
socket = "/nonexistent-warpdrive-test/dead.sock"

[[routes]]
host = "app.test"
path_prefix = "/dead"
upstream = "dead"

[[routes]]
host = "app.test"
upstream = "app"
`);
    wd = await startWarpdrive(config, { env: cleanEnv });
    await outputMatching(wd, /admin listener on unix:/);
  });
  after(async () => {
    await wd?.stop();
    await upstream?.close();
  });

  test('requests, durations, errors, instances and in-flight gauges add up to what was sent', bounded, async () => {
    // What the test sends, and so what the scrape must show.
    const plan: Array<[method: 'GET' | 'POST' | 'HEAD', host: string, path: string, times: number, status: number]> = [
      ['GET', 'app.test', '/ok', 40, 200],
      ['POST', 'app.test', '/created', 10, 201],
      ['GET', 'app.test', '/missing', 6, 404],
      ['GET', 'app.test', '/boom', 4, 500],
      ['HEAD', 'app.test', '/ok', 3, 200],
      ['GET', 'app.test', '/dead/x', 5, 502],
      ['GET', 'other.test', '/', 7, 404],
    ];
    const sent = plan.flatMap(([method, host, path, times, status]) => Array.from({ length: times }, () => ({ method, host, path, status })));
    const results = await Promise.all(
      sent.map(async ({ method, host, path }) => {
        const res = await request(`${wd.url}${path}`, { method, headers: { host }, reset: true, body: method === 'POST' ? 'x' : undefined });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    assert.deepEqual(results, sent.map((s) => s.status));

    // Both threads served some of it (each line of the access log names its thread).
    await outputMatching(wd, / thread=\d+\n/, sent.length);
    const byThread = new Map<string, number>();
    for (const m of wd.output().matchAll(/ thread=(\d+)\n/g)) byThread.set(m[1]!, (byThread.get(m[1]!) ?? 0) + 1);
    assert.deepEqual([...byThread.keys()].sort(), ['0', '1'], `threads that served: ${JSON.stringify([...byThread])}`);

    const scrape = await admin(socket, '/metrics');
    assert.equal(scrape.status, 200);
    assert.match(String(scrape.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const m = scrape.text;
    const requests = (route: string, upstream: string, method: string, code: string): number | undefined =>
      sample(m, `warpdrive_requests_total{route="${route}",upstream="${upstream}",method="${method}",code="${code}"}`);
    assert.equal(requests('2', 'app', 'GET', '2xx'), 40);
    assert.equal(requests('2', 'app', 'POST', '2xx'), 10);
    assert.equal(requests('2', 'app', 'GET', '4xx'), 6);
    assert.equal(requests('2', 'app', 'GET', '5xx'), 4);
    assert.equal(requests('2', 'app', 'HEAD', '2xx'), 3);
    assert.equal(requests('1', 'dead', 'GET', '5xx'), 5);
    assert.equal(requests('none', 'none', 'GET', '4xx'), 7);
    const total = [...m.matchAll(/^warpdrive_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, x) => sum + Number(x[1]), 0);
    assert.equal(total, sent.length, 'no request counted twice or missed');

    assert.equal(sample(m, 'warpdrive_request_duration_seconds_count{route="2",upstream="app"}'), 63);
    assert.equal(sample(m, 'warpdrive_request_duration_seconds_bucket{route="2",upstream="app",le="+Inf"}'), 63);
    assert.equal(sample(m, 'warpdrive_upstream_response_duration_seconds_count{upstream="app"}'), 63);
    assert.equal(sample(m, 'warpdrive_upstream_errors_total{route="1",upstream="dead",code="WD_ERR_UPSTREAM_CONNECT"}'), 5);
    assert.equal(sample(m, 'warpdrive_instance_requests_total{upstream="app",instance="app#0"}'), 63);
    assert.equal(sample(m, 'warpdrive_instance_requests_total{upstream="dead",instance="dead#0"}'), 5);
    assert.equal(sample(m, 'warpdrive_instance_failures_total{upstream="dead",instance="dead#0"}'), 5);
    assert.equal(sample(m, 'warpdrive_requests_in_flight{thread="0"}'), 0);
    assert.equal(sample(m, 'warpdrive_requests_in_flight{thread="1"}'), 0);
    assert.equal(sample(m, 'warpdrive_proxy_threads{}') ?? sample(m, 'warpdrive_proxy_threads'), 2);
    assert.ok((sample(m, 'process_resident_memory_bytes') ?? 0) > 10_000_000);

    // The JSON status counts the same traffic.
    const status = (await admin(socket, '/api/status')).json<{ upstreams: { name: string; traffic: { requests: number } }[]; unrouted: { requests: number } }>();
    assert.deepEqual(status.upstreams.map((u) => [u.name, u.traffic.requests]), [['app', 63], ['dead', 5]]);
    assert.equal(status.unrouted.requests, 7);
  });
});

describe('cache metrics reconciled with counted traffic', () => {
  let upstream: TestUpstream;
  let wd: RunningWarpdrive;
  let socket: string;
  let upstreamRequests = 0;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      upstreamRequests++;
      res.writeHead(200, { 'cache-control': req.url === '/private' ? 'private' : 'public, max-age=600' }).end('cached body');
    });
    socket = path.join(tempDir('wd-metrics-cache-'), 'admin.sock');
    wd = await startWarpdrive(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
worker_threads = 2

[admin]
listen = ${JSON.stringify(socket)}

[cache]
size_bytes = 4194304

[upstreams.app]
${upstream.toml}

[[routes]]
upstream = "app"
`),
      { env: cleanEnv },
    );
    await outputMatching(wd, /admin listener on unix:/);
  });
  after(async () => {
    await wd?.stop();
    await upstream?.close();
  });

  test('hits, misses, stored entries and memory add up to what was sent, over both threads', bounded, async () => {
    // One connection, so one thread serves all of it and every second request is a hit there;
    // the other thread reports zeros, and the scrape is the sum of both.
    const client = new Client(wd.url);
    try {
      for (let n = 0; n < 10; n++) {
        for (const round of [0, 1]) {
          const res = await client.request({ method: 'GET', path: `/page/${n}` });
          assert.equal(res.statusCode, 200);
          assert.match(String(res.headers['cache-status']), round === 0 ? /fwd=uri-miss/ : /; hit/);
          await res.body.dump();
        }
      }
      for (let n = 0; n < 3; n++) await (await client.request({ method: 'GET', path: '/private' })).body.dump();
    } finally {
      await client.close();
    }
    assert.equal(upstreamRequests, 13);

    const m = (await admin(socket, '/metrics')).text;
    assert.equal(sample(m, 'warpdrive_cache_hits_total{tier="memory"}'), 10);
    assert.equal(sample(m, 'warpdrive_cache_hits_total{tier="redis"}'), 0);
    assert.equal(sample(m, 'warpdrive_cache_misses_total'), 13, 'ten first requests and three private ones');
    assert.equal(sample(m, 'warpdrive_cache_stored_total'), 10);
    assert.equal(sample(m, 'warpdrive_cache_entries'), 10);
    const used = sample(m, 'warpdrive_cache_memory_bytes')!;
    assert.ok(used > 10 * 'cached body'.length && used < 4194304, `memory_bytes ${used}`);
    assert.equal(sample(m, 'warpdrive_cache_memory_limit_bytes'), 4194304, 'the two threads\' shares add up to size_bytes');
    assert.equal(sample(m, 'warpdrive_cache_evictions_total'), 0);
    assert.doesNotMatch(m, /warpdrive_tls_/, 'no TLS, no TLS families');
  });
});
