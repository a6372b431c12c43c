/**
 * Configuration generations: what a reload reuses, and when a retired
 * generation lets go of what only it used.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { ThreadServices } from '../../src/filters/index.js';
import { Generation } from '../../src/runtime/generation.js';
import { planReload } from '../../src/runtime/reload-plan.js';

const services = new ThreadServices(0);

function plan(extra: string, apiPort = 3001): ReturnType<typeof parseConfig> {
  return parseConfig(
    `
[server]
http_port = 8080
${extra}
[upstreams.web]
host = "127.0.0.1"
port = 3000
process.command = "node"
process.args = ["web.js"]

[upstreams.api]
host = "127.0.0.1"
port = ${apiPort}

[[routes]]
path_prefix = "/api"
upstream = "api"

[[routes]]
upstream = "web"
`,
    'generation.toml',
  );
}

describe('Generation.build', () => {
  it('carries unchanged upstreams over as the same objects and rebuilds changed ones', async () => {
    const first = Generation.build(plan(''), services);
    assert.equal(first.created.size, 2);
    const second = Generation.build(plan('', 3002), services, first);
    assert.equal(second.upstreams.get('web'), first.upstreams.get('web'), 'web kept its pool and health state');
    assert.notEqual(second.upstreams.get('api'), first.upstreams.get('api'), 'api moved to another port: a new pool');
    assert.deepEqual([...second.created].map((u) => u.name), ['api']);
    assert.deepEqual(first.upstreamsDroppedBy(second).map((u) => u.name), ['api']);
    await Promise.all([...first.upstreams.values(), ...second.created].map((u) => u.close()));
  });

  it('a changed process command alone does not rebuild the upstream (the process restarts, the pool stays)', async () => {
    const first = Generation.build(plan(''), services);
    const changed = parseConfig(
      `
[upstreams.web]
host = "127.0.0.1"
port = 3000
process.command = "node"
process.args = ["web-v2.js"]
[upstreams.api]
host = "127.0.0.1"
port = 3001
[[routes]]
upstream = "web"
`,
      'generation.toml',
    );
    const second = Generation.build(changed, services, first);
    assert.equal(second.created.size, 0);
    await Promise.all([...first.upstreams.values()].map((u) => u.close()));
  });

  it('retire() resolves when the last request that acquired it releases it, for every caller', async () => {
    const generation = Generation.build(plan(''), services);
    generation.acquire();
    generation.acquire();
    let retired = 0;
    void generation.retire().then(() => retired++);
    void generation.retire().then(() => retired++);
    generation.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(retired, 0, 'one request still runs');
    generation.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(retired, 2);
    await Promise.all([...generation.upstreams.values()].map((u) => u.close()));
  });
});

describe('planReload', () => {
  it('keeps restart-only settings and names them; counts route and upstream changes', () => {
    const running = plan('worker_threads = 1');
    const next = plan('worker_threads = 2\nshutdown_timeout_secs = 5', 3002);
    const reload = planReload(running, next);
    assert.deepEqual(reload.needRestart, ['server.worker_threads']);
    assert.equal(reload.plan.server.workerThreads, 1, 'the running value is kept');
    assert.equal(reload.plan.server.shutdownTimeoutMs, 5000, 'what can change, changes');
    assert.deepEqual(reload.upstreamsChanged, ['api']);
    assert.deepEqual([reload.routesAdded, reload.routesRemoved], [0, 0]);
  });
});
