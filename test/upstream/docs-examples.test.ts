/**
 * The TOML examples in docs/upstream.md go through the real config loader and
 * become working Upstreams, and the defaults the docs promise are the ones the
 * loader produces: the docs cannot drift from the code unnoticed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/index.js';
import { createUpstreams } from '../../src/upstream/index.js';

/** The repository root: the nearest ancestor holding docs/upstream.md (works from dist/ and .build/NAME/). */
function docsFile(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let n = 0; n < 8; n++) {
    const candidate = path.join(dir, 'docs', 'upstream.md');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('docs/upstream.md not found above the test file');
}

const examples = [...readFileSync(docsFile(), 'utf8').matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/upstream.md examples', () => {
  it('has examples', () => assert.ok(examples.length >= 4));

  examples.forEach((toml, n) => {
    it(`example ${n + 1} loads and builds upstreams`, async () => {
      const plan = parseConfig(toml, `docs/upstream.md example ${n + 1}`);
      const upstreams = createUpstreams(plan);
      assert.ok(upstreams.size > 0);
      await Promise.all([...upstreams.values()].map((u) => u.close()));
    });
  });

  it('the pool example has the documented strategy, instances and weights', () => {
    const pool = examples.find((e) => e.includes('[[upstreams.rails.instances]]'))!;
    const rails = parseConfig(pool, 'docs').upstreams.get('rails')!;
    assert.equal(rails.strategy, 'least_conn');
    assert.deepEqual(rails.instances.map((i) => [i.id, i.weight]), [['rails#0', 2], ['rails#1', 1], ['rails#2', 1]]);
  });

  it('the defaults are the documented ones', () => {
    const plan = parseConfig('[upstreams.api]\nhost = "127.0.0.1"\nport = 3000\n[upstreams.api.health]\npath = "/health"\n[[routes]]\nupstream = "api"\n', 'defaults');
    const api = plan.upstreams.get('api')!;
    assert.equal(api.strategy, 'round_robin');
    assert.deepEqual(
      [api.connectTimeoutMs, api.readTimeoutMs, api.maxConnectionsPerInstance, api.keepAliveTimeoutMs, api.retries],
      [5_000, 60_000, 256, 4_000, 1],
    );
    assert.deepEqual({ ...api.passive }, { maxFails: 3, failTimeoutMs: 10_000, maxEjectionMs: 300_000, count5xx: false });
    assert.deepEqual(
      { ...api.health },
      { path: '/health', intervalMs: 10_000, timeoutMs: 2_000, unhealthyThreshold: 3, healthyThreshold: 2, expectStatusMin: 200, expectStatusMax: 399 },
    );
  });
});
