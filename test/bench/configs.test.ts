/**
 * The rendered configs are checked by the real consumers: warpdrive's own
 * config loader, `nginx -t` and `haproxy -c` (each skipped with a reason when
 * the tool is not installed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { fillTemplate, renderHaproxy, renderNginx, renderNodePeer, renderWarpdrive, type RenderedConfig } from '../../bench/lib/configs.js';
import { findExecutable } from '../../bench/lib/tools.js';
import { buildRouteTable, type Topology } from '../../bench/lib/topology.js';

const SINGLE: Topology = { upstreamPorts: [41001], routes: undefined };
const POOL: Topology = { upstreamPorts: [41001, 41002, 41003], routes: undefined };
const ROUTES: Topology = { upstreamPorts: [41001], routes: buildRouteTable(100, 10) };

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
  for (const topology of [SINGLE, POOL, ROUTES]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-nginx-'));
    const { main } = writeOut(renderNginx(topology, { port: 18081, dir }), dir);
    const r = spawnSync(nginx!, ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', main], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
});

const haproxy = findExecutable('haproxy');
test('haproxy -c accepts the rendered HAProxy configs, route map included', { skip: haproxy ? false : 'haproxy is not installed (apt-get install haproxy)' }, () => {
  for (const topology of [SINGLE, POOL, ROUTES]) {
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
