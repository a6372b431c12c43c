/**
 * The metrics pieces alone: histogram buckets, the per-request filter's counting,
 * adding threads up, and the Prometheus text. The numbers a scrape of a running
 * warpdrive shows are reconciled with real traffic in
 * test/admin/metrics-reconcile.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { ThreadServices } from '../../src/filters/index.js';
import { MetricsFilter } from '../../src/filters/metrics.js';
import { aggregate } from '../../src/metrics/aggregate.js';
import { Histogram, latencyBucketsMs } from '../../src/metrics/histogram.js';
import { renderPrometheus, type ProcessFacts } from '../../src/metrics/prometheus.js';
import { methodIndex, statusClassIndex, ThreadMetrics } from '../../src/metrics/thread-metrics.js';
import { snapshotInstances, type CacheSnapshot, type ThreadSnapshot } from '../../src/metrics/thread-snapshot.js';
import { Exchange, type ExchangeOwner } from '../../src/pipeline/exchange.js';
import { Generation } from '../../src/runtime/generation.js';
import { FakeResponse } from '../helpers/fake-uws-response.js';

const plan = parseConfig(
  '[admin]\nlisten = "127.0.0.1:9180"\n[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\npath_prefix = "/app"\nupstream = "app"\n',
  'metrics-test.toml',
);
const generation = Generation.build(plan, new ThreadServices(0));
after(() => Promise.all([...generation.upstreams.values()].map((u) => u.close())));
const owner: ExchangeOwner = { draining: false, proceed() {}, resumeFilters() {}, exchangeFinished() {} };

function answered(method: string, status: number): Exchange {
  const x = new Exchange(owner, generation.acquire(), new FakeResponse().asResponse, 0);
  x.method = method;
  x.route = generation.routes[0];
  x.respond(status, [], '');
  return x;
}

describe('Histogram', () => {
  it('files each observation under the first bound it does not exceed, +Inf last', () => {
    const h = new Histogram();
    for (const ms of [0, 1, 1.0001, 2.5, 9999, 10000, 10001, 1e9]) h.observe(ms);
    const at = (bound: number): number => h.counts[latencyBucketsMs.indexOf(bound)]!;
    assert.equal(at(1), 2); // 0 and 1: le="0.001" is inclusive
    assert.equal(at(2.5), 2); // 1.0001 and 2.5
    assert.equal(at(10000), 2); // 9999 and 10000
    assert.equal(h.counts[latencyBucketsMs.length], 2); // above 10 s
    assert.equal(h.sumMs, 0 + 1 + 1.0001 + 2.5 + 9999 + 10000 + 10001 + 1e9);
  });
});

describe('labels', () => {
  it('methods outside the usual ones count as OTHER; statuses by class, none for 0', () => {
    assert.deepEqual(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND'].map(methodIndex), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual([0, 101, 200, 304, 404, 499, 502, 600].map(statusClassIndex), [0, 1, 2, 3, 4, 4, 5, 0]);
  });
});

describe('MetricsFilter', () => {
  it('counts by method and status class, and observes the duration', () => {
    const metrics = new ThreadMetrics();
    const filter = new MetricsFilter(metrics.forRoute(plan.routes[0]!));
    for (const [method, status] of [['GET', 200], ['GET', 200], ['POST', 201], ['GET', 502], ['PROPFIND', 405]] as const) filter.done(answered(method, status));
    const [block] = metrics.snapshot().filter((b) => b.route === '1');
    const at = (method: string, status: number): number => block!.requests[methodIndex(method) * 6 + statusClassIndex(status)]!;
    assert.deepEqual([at('GET', 200), at('POST', 200), at('GET', 500), at('OTHER', 400)], [2, 1, 1, 1]);
    assert.equal(block!.duration.counts.reduce((a, b) => a + b, 0), 5);
    assert.equal(block!.upstreamDuration.counts.reduce((a, b) => a + b, 0), 0, 'no upstream answered these');
  });

  it('the same route label and upstream reuse one block across generations (a reload does not reset counts)', () => {
    const metrics = new ThreadMetrics();
    assert.equal(metrics.forRoute(plan.routes[0]!), metrics.forRoute({ ...plan.routes[0]! }));
    assert.notEqual(metrics.forRoute(plan.routes[0]!), metrics.forRoute({ ...plan.routes[0]!, upstream: 'other' }));
  });
});

function thread(n: number, requests: number, breaker: 'closed' | 'open'): ThreadSnapshot {
  const metrics = new ThreadMetrics();
  const filter = new MetricsFilter(metrics.forRoute(plan.routes[0]!));
  for (let i = 0; i < requests; i++) filter.done(answered('GET', 200));
  const [instance] = snapshotInstances(generation);
  return {
    thread: n,
    generation: 1,
    inFlight: n,
    websockets: 2 * n,
    routes: metrics.snapshot(),
    instances: [{ ...instance!, requests, breaker, available: breaker === 'closed' }],
    recentErrors: [{ at: 1000 + n, thread: n, status: 502, code: 'WD_ERR_UPSTREAM_CONNECT', request: 'GET /', upstream: 'app', instance: 'app#0', cause: '', requestId: '' }],
    cache: cacheOf(n),
  };
}

/** Thread n's cache counters: every field differs, so a field summed into another shows. */
function cacheOf(n: number): CacheSnapshot {
  const k = n + 1;
  return { hits: 10 * k, redisHits: 2 * k, staleHits: 3 * k, misses: 4 * k, stored: 5 * k, revalidated: 6 * k, servedOnError: 7 * k, collapsed: 8 * k, entries: 9 * k, bytes: 1000 * k, capacityBytes: 4096, evictions: 11 * k };
}

describe('aggregate', () => {
  it('adds the threads up: counters summed, breakers counted, errors newest first', () => {
    const totals = aggregate([thread(1, 3, 'open'), thread(0, 5, 'closed')]);
    const route = totals.routes.find((r) => r.route === '1')!;
    assert.equal(route.requests[methodIndex('GET') * 6 + 2], 8);
    assert.equal(route.duration.counts.reduce((a, b) => a + b, 0), 8);
    const [instance] = totals.instances;
    assert.deepEqual([instance!.requests, instance!.ejectedOn, instance!.availableOn, instance!.threads], [8, 1, 1, 2]);
    assert.deepEqual(totals.threads.map((t) => [t.thread, t.inFlight, t.websockets]), [[0, 0, 0], [1, 1, 2]]);
    assert.deepEqual(totals.recentErrors.map((e) => e.thread), [1, 0]);
    // Thread 0 has k = 1, thread 1 has k = 2: every counter is 3x thread 0's.
    assert.deepEqual(totals.cache, { hits: 30, redisHits: 6, staleHits: 9, misses: 12, stored: 15, revalidated: 18, servedOnError: 21, collapsed: 24, entries: 27, bytes: 3000, capacityBytes: 8192, evictions: 33 });
  });

  it('has no cache totals when no thread has a cache', () => {
    assert.equal(aggregate([{ ...thread(0, 1, 'closed'), cache: undefined }]).cache, undefined);
  });
});

describe('renderPrometheus', () => {
  const facts: ProcessFacts = {
    version: '0.1.0',
    startTimeSeconds: 1700000000,
    cpuSeconds: 1.5,
    residentBytes: 1000,
    proxyThreads: 2,
    generation: 3,
    reloads: { ok: 1, failed: 0 },
    tls: {
      certificates: [{ names: ['example.com', 'www.example.com'], source: 'acme', notAfterSeconds: 1800000000 }],
      acme: [
        { domain: 'example.com', hasCertificate: true, failing: false },
        { domain: 'new.example.com', hasCertificate: false, failing: true },
      ],
    },
  };
  const text = renderPrometheus(
    aggregate([thread(0, 5, 'closed'), thread(1, 3, 'open')]),
    [{ unit: 'app', upstream: 'app', instanceIds: ['app#0'], state: 'ready', pid: 42, startedAt: 0, restarts: 2, cpu: 12.5, rssBytes: 1 << 20, lastExit: undefined, failure: undefined }],
    facts,
  );

  it('has a HELP and TYPE line for every family, and every sample belongs to one', () => {
    const families = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, m[2]!);
    for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) {
      const name = /^([a-z_]+)/.exec(line)![1]!;
      const family = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(families.has(family), `sample ${line} has a family`);
      assert.match(line, /^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+]+$/, `well-formed: ${line}`);
    }
  });

  it('writes the summed counters and cumulative buckets', () => {
    assert.match(text, /^warpdrive_requests_total\{route="1",upstream="app",method="GET",code="2xx"\} 8$/m);
    assert.match(text, /^warpdrive_request_duration_seconds_bucket\{route="1",upstream="app",le="\+Inf"\} 8$/m);
    assert.match(text, /^warpdrive_request_duration_seconds_count\{route="1",upstream="app"\} 8$/m);
    assert.match(text, /^warpdrive_instance_ejected_threads\{upstream="app",instance="app#0"\} 1$/m);
    assert.match(text, /^warpdrive_process_restarts_total\{process="app",upstream="app"\} 2$/m);
    assert.match(text, /^warpdrive_requests_in_flight\{thread="1"\} 1$/m);
    assert.match(text, /^process_start_time_seconds 1700000000$/m);
    const buckets = [...text.matchAll(/^warpdrive_request_duration_seconds_bucket\{route="1",upstream="app",le="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(buckets.length, latencyBucketsMs.length + 1);
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'cumulative');
  });

  it('writes the cache counters (memory and Redis hits apart) and the TLS certificates', () => {
    assert.match(text, /^warpdrive_cache_hits_total\{tier="memory"\} 24$/m);
    assert.match(text, /^warpdrive_cache_hits_total\{tier="redis"\} 6$/m);
    assert.match(text, /^warpdrive_cache_misses_total 12$/m);
    assert.match(text, /^warpdrive_cache_evictions_total 33$/m);
    assert.match(text, /^warpdrive_cache_memory_bytes 3000$/m);
    assert.match(text, /^warpdrive_cache_memory_limit_bytes 8192$/m);
    assert.match(text, /^warpdrive_tls_certificate_expiry_timestamp_seconds\{names="example.com,www.example.com",source="acme"\} 1800000000$/m);
    assert.match(text, /^warpdrive_tls_acme_certificate_present\{domain="new.example.com"\} 0$/m);
    assert.match(text, /^warpdrive_tls_acme_renewal_failing\{domain="new.example.com"\} 1$/m);
  });

  it('has no cache or TLS families without [cache] and TLS', () => {
    const plain = renderPrometheus(aggregate([{ ...thread(0, 1, 'closed'), cache: undefined }]), [], { ...facts, tls: undefined });
    assert.doesNotMatch(plain, /warpdrive_cache_|warpdrive_tls_/);
  });

  it('escapes label values', () => {
    const odd = renderPrometheus(aggregate([]), [{ unit: 'a"b\\c', upstream: 'x\ny', instanceIds: [], state: 'ready', pid: 1, startedAt: 0, restarts: 0, cpu: 0, rssBytes: 0, lastExit: undefined, failure: undefined }], facts);
    assert.match(odd, /^warpdrive_process_up\{process="a\\"b\\\\c",upstream="x\\ny"\} 1$/m);
  });
});
