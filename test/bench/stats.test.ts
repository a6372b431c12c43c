import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ratio, spread } from '../../bench/lib/stats.js';
import { cpuMicrosPerRequest, limitedByLoadSide, summarize, type Measurement } from '../../bench/lib/results.js';
import type { ProxyName } from '../../bench/lib/proxies.js';

test('spread gives the median of odd and even counts, with min and max, skipping NaN', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.deepEqual(spread([5, NaN]), { median: 5, min: 5, max: 5, n: 1 });
  assert.ok(Number.isNaN(spread([]).median));
});

test('ratio is NaN when the reference is missing or zero', () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.ok(Number.isNaN(ratio(3, 0)));
  assert.ok(Number.isNaN(ratio(3, NaN)));
});

function m(proxy: ProxyName, round: number, rps: number, p99: number, failed = 0): Measurement {
  return { proxy, round, requests: rps, durationSec: 1, requestsPerSec: rps, p50Ms: p99 / 2, p99Ms: p99, p999Ms: p99 * 2, maxMs: p99 * 3, socketErrors: failed, statusErrors: 0, cpuPercent: 99, peakRssBytes: 1e6 };
}

test('summaries are ratios of medians to nginx from the same measurements', () => {
  const measurements = [m('nginx', 1, 100, 2), m('warpdrive', 1, 150, 1), m('nginx', 2, 120, 4), m('warpdrive', 2, 90, 3, 5), m('nginx', 3, 110, 3), m('warpdrive', 3, 132, 2)];
  const [warpdrive, nginx] = summarize(measurements, [{ name: 'warpdrive', label: 'warpdrive' }, { name: 'nginx', label: 'nginx' }, { name: 'haproxy', label: 'HAProxy' }]);
  assert.equal(nginx!.requestsPerSec.median, 110);
  assert.equal(warpdrive!.requestsPerSec.median, 132);
  assert.equal(warpdrive!.throughputVsNginx, 1.2);
  assert.equal(warpdrive!.p99VsNginx, 2 / 3);
  assert.equal(nginx!.throughputVsNginx, 1);
  assert.equal(warpdrive!.failedRequests, 5);
});

test('without nginx in the run, ratios are NaN rather than made up', () => {
  const [only] = summarize([m('warpdrive', 1, 100, 1)], [{ name: 'warpdrive', label: 'warpdrive' }]);
  assert.ok(Number.isNaN(only!.throughputVsNginx));
});

test('CPU per request is the CPU share over the request rate, compared to nginx as a ratio', () => {
  assert.equal(cpuMicrosPerRequest({ cpuPercent: 100, requestsPerSec: 50_000 }), 20);
  assert.equal(cpuMicrosPerRequest({ cpuPercent: 50, requestsPerSec: 10_000 }), 50);
  assert.ok(Number.isNaN(cpuMicrosPerRequest({ cpuPercent: 99, requestsPerSec: 0 })));
  const measurements = [
    { ...m('nginx', 1, 50_000, 1), cpuPercent: 100 },
    { ...m('warpdrive', 1, 25_000, 1), cpuPercent: 100 },
  ];
  const [warpdrive, nginx] = summarize(measurements, [{ name: 'warpdrive', label: 'warpdrive' }, { name: 'nginx', label: 'nginx' }]);
  assert.equal(nginx!.cpuMicrosPerRequest.median, 20);
  assert.equal(warpdrive!.cpuMicrosPerRequest.median, 40);
  assert.equal(warpdrive!.cpuPerRequestVsNginx, 2);
});

test('a proxy whose load-generator CPU was saturated is named as limited by the load side', () => {
  const measurements = [
    { ...m('nginx', 1, 60_000, 1), loadCpuBusyPercent: 99 },
    { ...m('warpdrive', 1, 30_000, 1), loadCpuBusyPercent: 62 },
    { ...m('direct', 1, 80_000, 1), loadCpuBusyPercent: 100 },
    m('haproxy', 1, 55_000, 1),
  ];
  const summaries = summarize(measurements, [
    { name: 'warpdrive', label: 'warpdrive' },
    { name: 'nginx', label: 'nginx' },
    { name: 'haproxy', label: 'HAProxy' },
    { name: 'direct', label: 'direct' },
  ]);
  // direct is the load side's own ceiling, and HAProxy's load CPU was not sampled.
  assert.deepEqual(limitedByLoadSide(summaries).map((p) => p.proxy), ['nginx']);
});
