/**
 * What a reload does with the cache's configuration: the routes' settings follow
 * it, the [cache] and [postgres] sections wait for a restart.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { planReload } from '../../src/runtime/reload-plan.js';

const base = (cache: string, route = '', postgres = ''): string => `
[upstreams.app]
host = "127.0.0.1"
port = 3000
[[routes]]
path_prefix = "/"
upstream = "app"
${route}
[cache]
${cache}
${postgres}
`;

describe('planReload and the cache', () => {
  it("a route's cache settings and the default TTL are applied", () => {
    const running = parseConfig(base('default_ttl_secs = 10'), 'a.toml');
    const next = parseConfig(base('default_ttl_secs = 20', 'cache_default_ttl_secs = 30'), 'a.toml');
    const reload = planReload(running, next);
    assert.deepEqual(reload.needRestart, []);
    assert.deepEqual(reload.plan.routes[0]!.cache, { defaultTtlMs: 30_000 });
    assert.equal(reload.plan.cache?.defaultTtlMs, 20_000);
  });

  it('a changed [cache] or [postgres] keeps the running values and is named', () => {
    const pg = '[postgres]\nurl = "postgres://db/app"\n';
    const running = parseConfig(base('size_bytes = 1048576', '', pg), 'a.toml');
    const next = parseConfig(base('size_bytes = 2097152\nredis_url = "redis://r/0"', '', '[postgres]\nurl = "postgres://db/app"\nchannel = "other"\n'), 'a.toml');
    const reload = planReload(running, next);
    assert.deepEqual(reload.needRestart, ['cache', 'postgres']);
    assert.equal(reload.plan.cache?.sizeBytes, 1048576);
    assert.equal(reload.plan.cache?.redisUrl, undefined);
    assert.equal(reload.plan.postgres?.channel, 'warpdrive_cache_invalidation');
  });

  it('adding [cache] to a running warpdrive without one needs a restart', () => {
    const running = parseConfig(base('').replace('[cache]', ''), 'a.toml');
    const reload = planReload(running, parseConfig(base(''), 'a.toml'));
    assert.deepEqual(reload.needRestart, ['cache']);
    assert.equal(reload.plan.cache, undefined);
  });
});
