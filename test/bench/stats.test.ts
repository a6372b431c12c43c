import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ratio, spread } from '../../bench/lib/stats.js';
import { summarize, type Measurement } from '../../bench/lib/results.js';
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
