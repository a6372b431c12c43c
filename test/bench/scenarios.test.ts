import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rateScenario, scenarioTopology, selectScenarios } from '../../bench/lib/scenarios.js';
import { buildRouteTable, probeTarget, requestTargetsFor } from '../../bench/lib/topology.js';

test('every scenario of the issue exists, plus one fixed-rate scenario per rate', () => {
  const names = selectScenarios([], [1000, 5000]).map((s) => s.name);
  assert.deepEqual(names, [
    'small-get', 'large-100k', 'upload-1m', 'routes-1000', 'pool-3', 'pool-3-least-conn', 'pool-3-random', 'pool-3-ip-hash', 'new-conn',
    'cache-hit', 'cache-miss', 'gzip-json-100k', 'sendfile-1m', 'static-small', 'static-precompressed',
    'https-small-get', 'https-new-conn',
    'ws-echo', 'rate-1k', 'rate-5k', 'paced-1k', 'paced-5k',
  ]);
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

test('the pool-3 scenarios differ only in strategy; pool-3 stays round robin', () => {
  const pools = selectScenarios(['pool-3', 'pool-3-least-conn', 'pool-3-random', 'pool-3-ip-hash'], []);
  assert.deepEqual(pools.map((s) => s.strategy), ['round_robin', 'least_conn', 'random', 'ip_hash']);
  for (const s of pools) {
    assert.equal(s.instances, 3);
    assert.equal(s.tool, 'wrk');
    assert.equal(s.path, '/');
    assert.equal(s.routes, undefined);
  }
  // The report says what the strategies cannot show here.
  assert.match(pools[3]!.description, /127\.0\.0\.1.*ONE instance/);
  assert.match(pools[1]!.description, /Node\.js peer stays round robin/);
  assert.doesNotMatch(pools[0]!.description, /Node\.js peer/);
});

test('a scenario topology takes its instance count, routes and strategy from the scenario', () => {
  const ports = [41001, 41002, 41003];
  // In the bench's order, whatever order they are named in.
  const [small, routes, pool, ipHash, cacheHit] = selectScenarios(['small-get', 'routes-1000', 'pool-3', 'pool-3-ip-hash', 'cache-hit'], []);
  assert.deepEqual(scenarioTopology(small!, ports), { upstreamPorts: [41001], routes: undefined, strategy: 'round_robin', cache: false });
  assert.deepEqual(scenarioTopology(pool!, ports), { upstreamPorts: ports, routes: undefined, strategy: 'round_robin', cache: false });
  assert.equal(scenarioTopology(cacheHit!, ports).cache, true);
  assert.equal(scenarioTopology(ipHash!, ports).strategy, 'ip_hash');
  assert.equal(scenarioTopology(routes!, ports).routes?.length, 1000);
  assert.throws(() => scenarioTopology(ipHash!, [41001]), /pool-3-ip-hash needs 3 upstream ports, got 1/);
});

test('the egress floors take part only in the plain GET / scenarios they can serve; the file scenarios are warpdrive against nginx; HTTPS is warpdrive, nginx and HAProxy; Varnish in the cache scenarios', async () => {
  const { PROXIES } = await import('../../bench/lib/proxies.js');
  const all = selectScenarios([], [1000, 5000]);
  const served = (name: keyof typeof PROXIES) => all.filter((s) => PROXIES[name].unsupportedReason?.(s) === undefined).map((s) => s.name);
  const expected = ['small-get', 'new-conn', 'rate-1k', 'rate-5k', 'paced-1k', 'paced-5k'];
  assert.deepEqual(served('floor-net'), expected);
  assert.deepEqual(served('floor-undici'), expected);
  const fileScenarios = ['gzip-json-100k', 'sendfile-1m', 'static-small', 'static-precompressed'];
  const httpsScenarios = ['https-small-get', 'https-new-conn'];
  const cacheScenarios = ['cache-hit', 'cache-miss'];
  for (const name of ['warpdrive', 'baseline', 'nginx'] as const) assert.deepEqual(served(name), all.map((s) => s.name), name);
  assert.deepEqual(served('haproxy'), all.map((s) => s.name).filter((n) => !fileScenarios.includes(n) && !cacheScenarios.includes(n)));
  assert.deepEqual(served('node'), all.map((s) => s.name).filter((n) => !fileScenarios.includes(n) && !httpsScenarios.includes(n) && !cacheScenarios.includes(n)));
  assert.deepEqual(served('direct'), all.map((s) => s.name).filter((n) => !fileScenarios.includes(n) && !httpsScenarios.includes(n)));
  assert.deepEqual(served('varnish'), cacheScenarios);
  // The report says why they sit out.
  const [httpsSmall] = selectScenarios(['https-small-get'], []);
  assert.match(PROXIES.node.unsupportedReason!(httpsSmall!)!, /serves plain HTTP only \(the HTTPS scenarios compare warpdrive, nginx and HAProxy\)/);
  assert.match(PROXIES.direct.unsupportedReason!(httpsSmall!)!, /upstream serves plain HTTP only/);
  assert.match(PROXIES['floor-net'].unsupportedReason!(httpsSmall!)!, /plain-HTTP GET \//);
});

test('the HTTPS scenarios: small GETs over kept-alive TLS connections, and a full handshake per request', () => {
  const [small, newConn] = selectScenarios(['https-small-get', 'https-new-conn'], []);
  for (const s of [small!, newConn!]) {
    assert.equal(s.tool, 'wrk');
    assert.equal(s.path, '/');
    assert.equal(s.instances, 1);
    assert.equal(s.routes, undefined);
  }
  assert.equal(small!.https, 'keep-alive');
  assert.equal(small!.headers, undefined);
  assert.equal(newConn!.https, 'full-handshakes');
  assert.deepEqual(newConn!.headers, ['Connection: close']);
  assert.match(newConn!.description, /full handshake.*no session resumption/);
  // The plain ones stay plain.
  for (const s of selectScenarios(['small-get', 'new-conn'], [])) assert.equal(s.https, undefined);
});

test('an HTTPS scenario topology carries the certificate; without one it is an error', () => {
  const tls = { certFile: '/run/c.pem', keyFile: '/run/k.pem', bundleFile: '/run/b.pem', serverName: 'localhost' };
  const [small, https] = selectScenarios(['small-get', 'https-small-get'], []);
  assert.deepEqual(scenarioTopology(https!, [41001], undefined, tls).tls, tls);
  assert.equal(scenarioTopology(small!, [41001], undefined, tls).tls, undefined, 'a plain scenario ignores it');
  assert.throws(() => scenarioTopology(https!, [41001]), /https-small-get is served over HTTPS but no certificate was given/);
});

test('a file scenario topology carries its feature; serving files needs the files directory', () => {
  const [gzip, sendfile, small] = selectScenarios(['gzip-json-100k', 'sendfile-1m', 'static-small'], []);
  assert.deepEqual(scenarioTopology(gzip!, [41001]).feature, { kind: 'compression', gzipLevel: 5 });
  assert.deepEqual(scenarioTopology(sendfile!, [41001], '/tmp/files').feature, { kind: 'x-accel-redirect', filesDir: '/tmp/files' });
  assert.deepEqual(scenarioTopology(small!, [41001], '/tmp/files').feature, { kind: 'static', filesDir: '/tmp/files' });
  assert.throws(() => scenarioTopology(small!, [41001]), /serves files but no files directory was given/);
});
