import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions } from '../../bench/lib/options.js';

test('defaults: every scenario, every proxy, 3 rounds of 2+10 s', () => {
  const o = parseOptions([]);
  assert.deepEqual(o.scenarios, []);
  assert.deepEqual(o.proxies, ['warpdrive', 'nginx', 'varnish', 'haproxy', 'node', 'direct']);
  assert.equal(o.explicitProxies, false);
  assert.equal(o.rounds, 3);
  assert.equal(o.durationSec, 10);
  assert.equal(o.warmupSec, 2);
  assert.deepEqual(o.rates, [1000, 5000]);
  assert.equal(o.pin, true);
});

test('--baseline adds a second warpdrive build right after warpdrive', () => {
  const o = parseOptions(['--baseline', '/tmp/main/dist/src/cli/main.js']);
  assert.deepEqual(o.proxies, ['warpdrive', 'baseline', 'nginx', 'varnish', 'haproxy', 'node', 'direct']);
  assert.equal(o.baselineMain, '/tmp/main/dist/src/cli/main.js');
});

test('the floor-* reference points run only when --proxies names them', () => {
  assert.ok(!parseOptions([]).proxies.some((p) => p.startsWith('floor-')));
  assert.deepEqual(parseOptions(['--proxies', 'warpdrive,floor-net,floor-undici']).proxies, ['warpdrive', 'floor-net', 'floor-undici']);
});

test('--smoke shortens everything and picks the headline scenario', () => {
  const o = parseOptions(['--smoke']);
  assert.deepEqual(o.scenarios, ['small-get']);
  assert.equal(o.durationSec, 2);
  assert.equal(o.rounds, 1);
});

test('scenarios and proxies accept repeats and comma lists', () => {
  const o = parseOptions(['--scenario', 'small-get,pool-3', '--scenario', 'new-conn', '--proxies', 'nginx,warpdrive', '--no-pin', '--rates', '2000']);
  assert.deepEqual(o.scenarios, ['small-get', 'pool-3', 'new-conn']);
  assert.deepEqual(o.proxies, ['nginx', 'warpdrive']);
  assert.equal(o.explicitProxies, true);
  assert.equal(o.pin, false);
  assert.deepEqual(o.rates, [2000]);
});

test('bad input is an error that names the option and what to write', () => {
  assert.throws(() => parseOptions(['--duration', '0']), /--duration must be a positive whole number, got "0"/);
  assert.throws(() => parseOptions(['--proxies', 'caddy']), /unknown proxy "caddy"; choose from: warpdrive/);
  assert.throws(() => parseOptions(['--connections', '2', '--threads', '4']), /must be at least --threads/);
  assert.throws(() => parseOptions(['--frobnicate']), /frobnicate/);
  assert.throws(() => parseOptions(['small-get']), /unexpected argument "small-get"/);
});

test('--proxy-threads: 1 by default (per core), a positive integer otherwise', () => {
  assert.equal(parseOptions([]).proxyThreads, 1);
  assert.equal(parseOptions(['--proxy-threads', '2']).proxyThreads, 2);
  assert.throws(() => parseOptions(['--proxy-threads', '0']), /proxy-threads/);
});

test('the HTTPS scenarios are named in the usage and selected like the others', async () => {
  const { USAGE } = await import('../../bench/lib/options.js');
  const { selectScenarios } = await import('../../bench/lib/scenarios.js');
  assert.match(USAGE, /https-small-get, https-new-conn/);
  assert.match(USAGE, /the\s+https ones warpdrive, nginx\s+and HAProxy/);
  const o = parseOptions(['--scenario', 'https-small-get,https-new-conn', '--proxies', 'warpdrive,nginx,haproxy', '--duration', '5', '--rounds', '1']);
  assert.deepEqual(o.scenarios, ['https-small-get', 'https-new-conn']);
  assert.deepEqual(o.proxies, ['warpdrive', 'nginx', 'haproxy']);
  assert.deepEqual(selectScenarios(o.scenarios, o.rates).map((s) => s.https), ['keep-alive', 'full-handshakes']);
});
