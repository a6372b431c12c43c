/**
 * `warpdrive check` output: everything a person needs to confirm the plan.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPlanSummary, loadConfig, parseConfig } from '../../src/config/index.js';
import { seedWithoutUnavailable } from './fixtures.js';

describe('formatPlanSummary', () => {
  it('describes the seed example: listen address, upstreams, routes in order, start order', () => {
    const text = formatPlanSummary(parseConfig(seedWithoutUnavailable(), 'seed.toml', { WARPDRIVE_ADMIN_TOKEN: 'tok-SECRET-123' }));
    const expectedLines = [
      // parseConfig's source "seed.toml" is a file in the working directory.
      `relative paths from: ${process.cwd()} (the config file's directory; processes run there unless they set cwd)`,
      'listen: http://0.0.0.0:80',
      'proxy threads: 4 (sharing the port; the supervisor runs in a thread of its own)',
      '  rails: round_robin, 3 instances',
      '    rails#0 unix:/tmp/puma.0.sock',
      '    process: bundle exec puma -w 3 -b unix:///tmp/puma.sock (env RAILS_ENV, PORT)',
      '    cable#0 127.0.0.1:3001',
      '    health: GET /health every 5s (timeout 2s, down after 3, up after 2, ok 200-399)',
      'routes (4, first match wins):',
      '  1. host example.com and path under /cable -> cable  # WebSocket connections to ActionCable',
      '     then: strip prefix, require X-Admin-Token',
      '  4. host www.example.com -> rails',
      'process start order: rails, cable, sidekiq',
    ];
    const lines = text.split('\n');
    for (const line of expectedLines) assert.ok(lines.includes(line), `missing line ${JSON.stringify(line)} in:\n${text}`);
    assert.ok(lines.indexOf('  1. host example.com and path under /cable -> cable  # WebSocket connections to ActionCable') < lines.indexOf('  4. host www.example.com -> rails'));
    assert.ok(!text.includes('tok-SECRET-123'), 'the token itself is never printed');
    assert.match(text, /admin token set/);
  });

  it('shows every route condition and action', () => {
    const text = formatPlanSummary(
      parseConfig(
        `
[upstreams.app]
host = "::1"
port = 3000
[[routes]]
host = "*.example.com"
path_regex = "^/u/[0-9]+$"
methods = ["GET", "HEAD"]
header = { name = "X-V", value = "2" }
upstream = "app"
[[routes]]
path_exact = "/old"
rewrite = "/new"
add_headers = [{ name = "X-A", value = "1" }]
request_timeout_secs = 3
upstream = "app"
`,
        'c.toml',
        { WARPDRIVE_HTTP_PORT: '0' },
      ),
    );
    assert.match(text, /listen: http:\/\/0\.0\.0\.0:0 \(any free port\)/);
    assert.match(text, /app#0 \[::1\]:3000/);
    assert.match(text, /1\. host \*\.example\.com and path ~ \/\^\/u\/\[0-9\]\+\$\/ and method GET\|HEAD and header x-v: 2 -> app/);
    assert.match(text, /2\. path = \/old -> app\n {5}then: rewrite prefix to \/new, add x-a: 1, request timeout 3s/);
    assert.match(text, /process start order: none/);
    assert.match(text, /^cache: off$/m);
  });

  it('says what the cache will do: sizes per thread, Redis without its password, the channel, per-route exceptions', () => {
    const text = formatPlanSummary(
      parseConfig(
        `
[server]
worker_threads = 2
[upstreams.app]
host = "127.0.0.1"
port = 3000
[[routes]]
path_prefix = "/admin"
cache = false
upstream = "app"
[[routes]]
path_prefix = "/feeds"
cache_default_ttl_secs = 30
upstream = "app"
[[routes]]
upstream = "app"
[cache]
size_bytes = 134217728
redis_url = "redis://:hunter2@cache.internal:6380/2"
ignore_query_params = ["utm_*", "fbclid"]
[postgres]
url = "postgres://app:s3cret@db/shop"
`,
        'c.toml',
      ),
    );
    const lines = text.split('\n');
    for (const line of [
      'cache: 128 MiB in memory (64 MiB per proxy thread), objects up to 1 MiB, concurrent misses wait up to 5s; responses without freshness are not cached; query parameters left out of keys: fbclid, utm_*',
      '  shared tier (Redis): redis://:***@cache.internal:6380/2, keys under "warpdrive:cache:", lookups give up after 50 ms',
      '  invalidation: LISTEN "warpdrive_cache_invalidation" on postgres://app:***@db/shop',
      '  1. path under /admin -> app',
      '     then: not cached',
      '     then: cache default TTL 30s',
    ]) {
      assert.ok(lines.includes(line), `missing line ${JSON.stringify(line)} in:\n${text}`);
    }
    assert.ok(!text.includes('hunter2') && !text.includes('s3cret'), 'passwords are never printed');
  });
});
