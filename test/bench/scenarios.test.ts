import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rateScenario, selectScenarios } from '../../bench/lib/scenarios.js';
import { buildRouteTable, probeTarget, requestTargetsFor } from '../../bench/lib/topology.js';

test('every scenario of the issue exists, plus one fixed-rate scenario per rate', () => {
  const names = selectScenarios([], [1000, 5000]).map((s) => s.name);
  assert.deepEqual(names, ['small-get', 'large-100k', 'upload-1m', 'routes-1000', 'pool-3', 'new-conn', 'ws-echo', 'rate-1k', 'rate-5k', 'paced-1k', 'paced-5k']);
});

test('an unknown scenario name is an error listing the known ones', () => {
  assert.throws(() => selectScenarios(['small'], [1000]), /unknown scenario "small"; choose from: small-get, /);
});

test('selection keeps the bench order whatever order names are given in', () => {
  assert.deepEqual(selectScenarios(['pool-3', 'small-get'], []).map((s) => s.name), ['small-get', 'pool-3']);
});

test('rate scenarios are named by their rate', () => {
  assert.equal(rateScenario(5000).name, 'rate-5k');
  assert.equal(rateScenario(1500).name, 'rate-1500');
  assert.equal(rateScenario(1500).ratePerSec, 1500);
});

test('the route table has distinct host + prefix pairs and one request target under each', () => {
  const table = buildRouteTable(100, 10);
  assert.equal(table.length, 1000);
  assert.equal(new Set(table.map((r) => r.host + r.pathPrefix)).size, 1000);
  const targets = requestTargetsFor(table);
  targets.forEach((t, i) => {
    assert.equal(t.host, table[i]!.host);
    assert.ok(t.path.startsWith(table[i]!.pathPrefix));
  });
  assert.deepEqual(probeTarget({ upstreamPorts: [1], routes: table }), { host: 'h0.bench.test', path: '/svc0/item' });
  assert.deepEqual(probeTarget({ upstreamPorts: [1], routes: undefined }), { host: undefined, path: '/' });
});

test('paced scenarios mirror the rate scenarios with the bench own client', async () => {
  const { pacedScenario } = await import('../../bench/lib/scenarios.js');
  const paced = pacedScenario(5000);
  assert.equal(paced.name, 'paced-5k');
  assert.equal(paced.tool, 'paced');
  assert.equal(paced.ratePerSec, 5000);
});
