/**
 * The rendered configs are checked by the real consumers: warpdrive's own
 * config loader, `nginx -t` and `haproxy -c` (each skipped with a reason when
 * the tool is not installed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import type { Strategy } from '../../src/config/types.js';
import { BENCH_CACHE_BYTES, fillTemplate, nginxCacheDir, renderHaproxy, renderNginx, renderNodePeer, renderWarpdrive, varnishArgs, type BalancedTopology, type RenderedConfig } from '../../bench/lib/configs.js';
import { findExecutable } from '../../bench/lib/tools.js';
import { buildRouteTable, type Topology } from '../../bench/lib/topology.js';

const SINGLE: Topology = { upstreamPorts: [41001], routes: undefined };
const POOL: Topology = { upstreamPorts: [41001, 41002, 41003], routes: undefined };
const ROUTES: Topology = { upstreamPorts: [41001], routes: buildRouteTable(100, 10) };
const STRATEGIES: readonly Strategy[] = ['round_robin', 'least_conn', 'random', 'ip_hash'];
/** The pool of 3 once per strategy, as the pool-3-* scenarios configure it. */
const POOLS: readonly BalancedTopology[] = STRATEGIES.map((strategy) => ({ ...POOL, strategy }));

/** Writes the files where the config expects them: in the directory it was rendered for. */
function writeOut(rendered: RenderedConfig, dir: string): { main: string } {
  writeFileSync(path.join(dir, rendered.mainFile), rendered.text);
  for (const side of rendered.sideFiles) writeFileSync(path.join(dir, side.name), side.text);
  return { main: path.join(dir, rendered.mainFile) };
}

test('a template placeholder without a value is an error naming it', () => {
  assert.equal(fillTemplate('a {{x}} b', { x: '1' }), 'a 1 b');
  assert.throws(() => fillTemplate('a {{y}}', {}), /\{\{y\}\} has no value/);
});

test('warpdrive accepts its rendered configs: one route, a pool of 3, 1,000 host + path routes', () => {
  const single = parseConfig(renderWarpdrive(SINGLE, { port: 18080, dir: '/tmp' }).text, 'bench.toml');
  assert.equal(single.server.httpPort, 18080);
  assert.equal(single.server.bindAddress, '127.0.0.1');
  assert.equal(single.routes.length, 1);
  assert.equal(single.middleware.logRequests, false);

  const pool = parseConfig(renderWarpdrive(POOL, { port: 18080, dir: '/tmp' }).text, 'bench.toml');
  const app = pool.upstreams.get('app')!;
  assert.equal(app.strategy, 'round_robin');
  assert.deepEqual(app.instances.map((i) => (i.address.kind === 'tcp' ? i.address.port : 0)), [41001, 41002, 41003]);

  const routes = parseConfig(renderWarpdrive(ROUTES, { port: 18080, dir: '/tmp' }).text, 'bench.toml');
  assert.equal(routes.routes.length, 1000);
  assert.equal(routes.routes[999]!.match.host, 'h99.bench.test');
  assert.equal(routes.routes[999]!.match.pathPrefix, '/svc9/');
});

const nginx = findExecutable('nginx');
test('nginx -t accepts the rendered nginx configs', { skip: nginx ? false : 'nginx is not installed (apt-get install nginx)' }, () => {
  for (const topology of [SINGLE, POOL, ROUTES, ...POOLS]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-nginx-'));
    const { main } = writeOut(renderNginx(topology, { port: 18081, dir }), dir);
    const r = spawnSync(nginx!, ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', main], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // A balancing method after "keepalive" passes -t with only this warning, and disables upstream keep-alive.
    assert.doesNotMatch(r.stderr, /\[warn\]/, `${topology.routes ? 'routes' : 'pool'} ${(topology as BalancedTopology).strategy ?? ''}`);
  }
});

const haproxy = findExecutable('haproxy');
test('haproxy -c accepts the rendered HAProxy configs, route map included', { skip: haproxy ? false : 'haproxy is not installed (apt-get install haproxy)' }, () => {
  for (const topology of [SINGLE, POOL, ROUTES, ...POOLS]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-haproxy-'));
    const rendered = renderHaproxy(topology, { port: 18082, dir });
    const { main } = writeOut(rendered, dir);
    const r = spawnSync(haproxy!, ['-c', '-f', main], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
});

test('every proxy gets the same upstream ports and the same routes', () => {
  const ctx = { port: 18083, dir: '/tmp/x' };
  const n = renderNginx(ROUTES, ctx).text;
  const h = renderHaproxy(ROUTES, ctx);
  const peer = JSON.parse(renderNodePeer(ROUTES, ctx).text) as { routes: unknown[]; upstreamPorts: number[] };
  assert.equal((n.match(/location \/svc\d\/ \{ proxy_pass/g) ?? []).length, 1000);
  assert.equal((n.match(/server_name h\d+\.bench\.test;/g) ?? []).length, 100);
  assert.equal(h.sideFiles[0]!.text.trim().split('\n').length, 1000);
  assert.equal(peer.routes.length, 1000);
  const p = renderNginx(POOL, ctx).text;
  for (const port of POOL.upstreamPorts) {
    assert.ok(p.includes(`server 127.0.0.1:${port};`));
    assert.ok(renderHaproxy(POOL, ctx).text.includes(`127.0.0.1:${port}`));
  }
  // The fairness settings the issue asks for are in the rendered files.
  assert.match(n, /keepalive 128;/);
  assert.match(n, /proxy_http_version 1\.1;/);
  assert.match(n, /proxy_set_header Connection "";/);
  assert.match(n, /access_log off;/);
  assert.match(n, /worker_processes 1;/);
  assert.match(h.text, /nbthread 1/);
  assert.match(h.text, /http-reuse always/);
});

test('warpdrive is configured with the scenario strategy, round robin when none is given', () => {
  for (const topology of POOLS) {
    const plan = parseConfig(renderWarpdrive(topology, { port: 18080, dir: '/tmp' }).text, 'bench.toml');
    assert.equal(plan.upstreams.get('app')!.strategy, topology.strategy);
  }
  assert.equal(parseConfig(renderWarpdrive(SINGLE, { port: 18080, dir: '/tmp' }).text, 'bench.toml').upstreams.get('app')!.strategy, 'round_robin');
});

test('nginx and HAProxy get the equivalent balancing directive for each strategy', () => {
  const ctx = { port: 18084, dir: '/tmp/x' };
  /** The lines of nginx's upstream block, without comments: what decides the balancing. */
  const nginxUpstream = (t: BalancedTopology): string[] => {
    const text = renderNginx(t, ctx).text;
    const start = text.indexOf('upstream app {') + 'upstream app {'.length;
    const block = text.slice(start, text.indexOf('}', start));
    return block.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  };
  const haproxyBalance = (t: BalancedTopology): string[] => renderHaproxy(t, ctx).text.split('\n').filter((l) => /^\s*balance /.test(l)).map((l) => l.trim());
  const expected: Record<Strategy, { nginx: string | undefined; haproxy: string }> = {
    round_robin: { nginx: undefined, haproxy: 'balance roundrobin' },
    least_conn: { nginx: 'least_conn;', haproxy: 'balance leastconn' },
    random: { nginx: 'random two least_conn;', haproxy: 'balance random(2)' },
    ip_hash: { nginx: 'ip_hash;', haproxy: 'balance source' },
  };
  for (const topology of POOLS) {
    const want = expected[topology.strategy!];
    const lines = nginxUpstream(topology);
    // Round robin is nginx's default: no method line, the block starts with the servers. Any
    // other method is the first line: after "keepalive" it would replace keepalive's hook
    // (nginx only warns "load balancing method redefined") and upstream connections would not be reused.
    assert.equal(lines[0], want.nginx ?? 'server 127.0.0.1:41001;', `nginx, ${topology.strategy}`);
    assert.equal(lines.filter((l) => l === 'keepalive 128;').length, 1);
    assert.deepEqual(haproxyBalance(topology), [want.haproxy], `HAProxy, ${topology.strategy}`);
  }
  // A topology with no strategy (every scenario but pool-3-*) renders round robin.
  assert.deepEqual(haproxyBalance(SINGLE), ['balance roundrobin']);
  assert.deepEqual(nginxUpstream(SINGLE).slice(0, 2), ['server 127.0.0.1:41001;', 'keepalive 128;']);
});

test('a strategy outside the four is an error naming the valid ones, in every renderer', () => {
  const bad = { ...POOL, strategy: 'weighted' as Strategy };
  for (const render of [renderWarpdrive, renderNginx, renderHaproxy]) {
    assert.throws(() => render(bad, { port: 18085, dir: '/tmp' }), /unknown balancing strategy "weighted"; use round_robin, least_conn, random, ip_hash/);
  }
});

test('--proxy-threads N gives warpdrive N worker_threads, nginx N worker_processes and HAProxy nbthread N', () => {
  const ctx = { port: 18086, dir: '/tmp/x', threads: 2 };
  assert.equal(parseConfig(renderWarpdrive(SINGLE, ctx).text, 'bench.toml').server.workerThreads, 2);
  assert.match(renderNginx(SINGLE, ctx).text, /^worker_processes 2;$/m);
  assert.match(renderHaproxy(SINGLE, ctx).text, /^ {4}nbthread 2$/m);
  // Without it, one each: the per-core comparison.
  assert.equal(parseConfig(renderWarpdrive(SINGLE, { port: 18086, dir: '/tmp/x' }).text, 'bench.toml').server.workerThreads, 1);
  assert.match(renderNginx(SINGLE, { port: 18086, dir: '/tmp/x' }).text, /^worker_processes 1;$/m);
});

const CACHED: BalancedTopology = { ...SINGLE, cache: true };

test('the cache scenarios give every cache the same 64 MiB: warpdrive [cache], nginx proxy_cache on tmpfs, Varnish -s malloc', () => {
  const plan = parseConfig(renderWarpdrive(CACHED, { port: 18080, dir: '/tmp' }).text, 'bench.toml');
  assert.equal(plan.cache?.sizeBytes, BENCH_CACHE_BYTES);
  assert.equal(parseConfig(renderWarpdrive(SINGLE, { port: 18080, dir: '/tmp' }).text, 'bench.toml').cache, undefined);
  const n = renderNginx(CACHED, { port: 18084, dir: '/tmp/x' }).text;
  assert.match(n, /proxy_cache_path \/dev\/shm\/warpdrive-bench-nginx-18084 levels=1:2 keys_zone=bench:16m max_size=67108864 /);
  assert.match(n, /proxy_cache bench;/);
  assert.doesNotMatch(renderNginx(SINGLE, { port: 18084, dir: '/tmp/x' }).text, /^\s*proxy_cache/m);
  assert.deepEqual(varnishArgs(CACHED, { port: 18085, dir: '/tmp/v' }), [
    '-F', '-j', 'none', '-n', '/tmp/v/varnish', '-a', '127.0.0.1:18085', '-b', '127.0.0.1:41001', '-s', 'malloc,67108864', '-p', 'thread_pools=1',
  ]);
  assert.throws(() => varnishArgs({ ...POOL, cache: true }, { port: 1, dir: '/tmp' }), /one upstream instance/);
});

test('nginx -t accepts the rendered cache config', { skip: nginx ? false : 'nginx is not installed (apt-get install nginx)' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-nginx-cache-'));
  const { main } = writeOut(renderNginx(CACHED, { port: 18086, dir }), dir);
  const r = spawnSync(nginx!, ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', main], { encoding: 'utf8' });
  // nginx -t creates the cache directory: remove it, it is on tmpfs.
  rmSync(nginxCacheDir(18086), { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
});

test('the file scenarios: warpdrive and nginx configured for the same job, accepted by both', async () => {
  const { writeBenchFiles, ACCEL_PREFIX } = await import('../../bench/lib/bench-files.js');
  const filesDir = writeBenchFiles(mkdtempSync(path.join(tmpdir(), 'wd-bench-files-')));
  const features = [
    { kind: 'compression', gzipLevel: 5 },
    { kind: 'x-accel-redirect', filesDir },
    { kind: 'static', filesDir },
  ] as const;
  for (const feature of features) {
    const topology: Topology = { ...SINGLE, feature };
    const plan = parseConfig(renderWarpdrive(topology, { port: 18087, dir: '/tmp' }).text, path.join(filesDir, 'bench.toml'));
    const nginxText = renderNginx(topology, { port: 18088, dir: '/tmp/x' }).text;
    if (feature.kind === 'compression') {
      assert.deepEqual(plan.middleware.compression?.codings, ['gzip']);
      assert.equal(plan.middleware.compression?.gzipLevel, 5);
      assert.match(nginxText, /gzip on;\n\s+gzip_comp_level 5;/);
    } else if (feature.kind === 'x-accel-redirect') {
      assert.deepEqual(plan.middleware.xSendfile?.accelMappings, [{ prefix: ACCEL_PREFIX, root: path.join(filesDir, 'private') }]);
      assert.match(nginxText, new RegExp(`location ${ACCEL_PREFIX} \\{\\n\\s+internal;\\n\\s+alias ${filesDir}/private/;`));
    } else {
      assert.equal(plan.routes[0]!.staticFiles?.root, path.join(filesDir, 'public'));
      assert.equal(plan.routes[0]!.upstream, 'app');
      assert.match(nginxText, /try_files \$uri @app;/);
      assert.match(nginxText, /gzip_static on;/);
    }
    if (nginx) {
      const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-nginx-'));
      const { main } = writeOut(renderNginx(topology, { port: 18088, dir }), dir);
      const r = spawnSync(nginx, ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', main], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
  }
});

/** The bench certificate, made once for the HTTPS tests (openssl required). */
const openssl = findExecutable('openssl');
let benchTls: import('../../bench/lib/bench-tls.js').BenchTlsFiles | undefined;
async function httpsTopology(): Promise<Topology> {
  if (!benchTls) {
    const { writeBenchCertificate } = await import('../../bench/lib/bench-tls.js');
    benchTls = writeBenchCertificate(openssl!, path.join(mkdtempSync(path.join(tmpdir(), 'wd-bench-tls-')), 'tls'));
  }
  return { ...SINGLE, tls: benchTls };
}
const noOpenssl = openssl ? false : 'openssl is not installed (apt-get install openssl)';

test('HTTPS: warpdrive serves the bench certificate on the measured port, with its plain listener on another', { skip: noOpenssl }, async () => {
  const topology = await httpsTopology();
  // parseConfig reads the certificate files as a start would: key matches, valid now, covers its names.
  const plan = parseConfig(renderWarpdrive(topology, { port: 18090, dir: '/tmp', plainHttpPort: 18091 }).text, 'bench.toml');
  assert.equal(plan.server.httpsPort, 18090);
  assert.equal(plan.server.httpPort, 18091);
  assert.equal(plan.tls?.enabled, true);
  assert.deepEqual(plan.tls?.fileCertificates.map((c) => [c.certFile, c.keyFile]), [[topology.tls!.certFile, topology.tls!.keyFile]]);
  assert.equal(plan.tls?.acme, undefined);
  assert.throws(() => renderWarpdrive(topology, { port: 18090, dir: '/tmp' }), /needs a port for its plain-HTTP listener/);
  // Plain scenarios are untouched: no https_port, no [tls].
  const plain = parseConfig(renderWarpdrive(SINGLE, { port: 18090, dir: '/tmp', plainHttpPort: 18091 }).text, 'bench.toml');
  assert.equal(plain.server.httpPort, 18090);
  assert.equal(plain.server.httpsPort, undefined);
  assert.equal(plain.tls, undefined);
});

test('HTTPS: nginx -t and haproxy -c accept the configs with the bench certificate', { skip: noOpenssl || (!nginx && !haproxy ? 'neither nginx nor haproxy is installed' : false) }, async () => {
  const topology = await httpsTopology();
  if (nginx) {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-nginx-'));
    const { main } = writeOut(renderNginx(topology, { port: 18092, dir }), dir);
    const r = spawnSync(nginx, ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', main], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /\[warn\]/);
  }
  if (haproxy) {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-haproxy-'));
    const { main } = writeOut(renderHaproxy(topology, { port: 18093, dir }), dir);
    const r = spawnSync(haproxy, ['-c', '-f', main], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /\[WARNING\]/);
  }
});

test("HTTPS: nginx and HAProxy get the settings warpdrive's uWS build has by itself", async () => {
  const { TLS12_CIPHERS } = await import('../../src/ingress/tls-server.js');
  const tls = { certFile: '/run/x/cert.pem', keyFile: '/run/x/key.pem', bundleFile: '/run/x/bundle.pem', serverName: 'localhost' };
  const topology: Topology = { ...SINGLE, tls };
  const n = renderNginx(topology, { port: 18094, dir: '/tmp/x' }).text;
  assert.match(n, /listen 127\.0\.0\.1:18094 ssl default_server;/);
  assert.match(n, /ssl_certificate \/run\/x\/cert\.pem;\n\s+ssl_certificate_key \/run\/x\/key\.pem;/);
  assert.match(n, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
  assert.ok(n.includes(`ssl_ciphers ${TLS12_CIPHERS};`), "warpdrive's TLS 1.2 list");
  assert.match(n, /ssl_prefer_server_ciphers off;/);
  assert.match(n, /ssl_ecdh_curve X25519:P-256:P-384;/);
  assert.match(n, /ssl_session_tickets on;/);
  assert.match(n, /ssl_session_cache builtin:20480;/);
  assert.match(n, /ssl_session_timeout 7200s;/);
  assert.match(n, /proxy_set_header X-Forwarded-Proto \$scheme;/);

  const h = renderHaproxy(topology, { port: 18095, dir: '/tmp/x' }).text;
  const bind = h.split('\n').find((l) => l.trim().startsWith('bind '))!.trim();
  assert.equal(
    bind,
    `bind 127.0.0.1:18095 ssl crt /run/x/bundle.pem ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 ciphers ${TLS12_CIPHERS} ` +
      'ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256 curves X25519:P-256:P-384 prefer-client-ciphers',
  );
  assert.doesNotMatch(h, /no-tls-tickets/, 'tickets stay on, as in uWS');
  assert.match(h, /^ {4}tune\.ssl\.cachesize 20480$/m);
  assert.match(h, /^ {4}tune\.ssl\.lifetime 7200$/m);
  assert.match(h, /http-request set-header X-Forwarded-Proto https/);

  // With a route table too, every server listens with TLS.
  const routed = renderNginx({ ...ROUTES, tls }, { port: 18096, dir: '/tmp/x' }).text;
  assert.equal((routed.match(/listen 127\.0\.0\.1:18096 ssl/g) ?? []).length, 101);
});

test('plain HTTP scenarios render no TLS at all', () => {
  const ctx = { port: 18097, dir: '/tmp/x' };
  const n = renderNginx(SINGLE, ctx).text;
  assert.doesNotMatch(n, /\bssl/);
  assert.match(n, /listen 127\.0\.0\.1:18097 default_server;/);
  const h = renderHaproxy(SINGLE, ctx).text;
  assert.doesNotMatch(h, /ssl/);
  assert.match(h, /^ {4}bind 127\.0\.0\.1:18097$/m);
  assert.match(h, /http-request set-header X-Forwarded-Proto http$/m);
  assert.doesNotMatch(renderWarpdrive(SINGLE, ctx).text, /https_port|\[tls\]/);
});
