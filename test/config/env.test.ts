/**
 * Environment variables: overrides win over the file, simple mode without a
 * file, WARPDRIVE_CONFIG, and bad values named by variable.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { catchConfigError, fixture, seedTodayFile, validBase } from './fixtures.js';

const fileWithEverything = `${validBase}
[server]
http_port = 8080
bind_address = "0.0.0.0"
max_header_bytes = 8192
shutdown_timeout_secs = 30
[middleware]
admin_token = "from-file"
log_requests = false
trusted_proxies = ["10.0.0.1"]
`;

describe('env overrides win over the file', () => {
  const cases: { variable: string; value: string; read: (plan: ReturnType<typeof parseConfig>) => unknown; expected: unknown }[] = [
    { variable: 'WARPDRIVE_HTTP_PORT', value: '9090', read: (plan) => plan.server.httpPort, expected: 9090 },
    { variable: 'WARPDRIVE_HTTP_PORT', value: '0', read: (plan) => plan.server.httpPort, expected: 0 },
    { variable: 'WARPDRIVE_BIND_ADDRESS', value: '127.0.0.1', read: (plan) => plan.server.bindAddress, expected: '127.0.0.1' },
    { variable: 'WARPDRIVE_MAX_HEADER_BYTES', value: '32768', read: (plan) => plan.server.maxHeaderBytes, expected: 32768 },
    { variable: 'WARPDRIVE_SHUTDOWN_TIMEOUT_SECS', value: '2.5', read: (plan) => plan.server.shutdownTimeoutMs, expected: 2500 },
    { variable: 'WARPDRIVE_ADMIN_TOKEN', value: 'from-env', read: (plan) => plan.middleware.adminToken, expected: 'from-env' },
    { variable: 'WARPDRIVE_LOG_REQUESTS', value: 'true', read: (plan) => plan.middleware.logRequests, expected: true },
    { variable: 'WARPDRIVE_LOG_REQUESTS', value: '1', read: (plan) => plan.middleware.logRequests, expected: true },
    { variable: 'WARPDRIVE_TRUSTED_PROXIES', value: '127.0.0.1, 10.0.0.0/8 ,::1', read: (plan) => plan.middleware.trustedProxies, expected: ['127.0.0.1', '10.0.0.0/8', '::1'] },
  ];
  for (const { variable, value, read, expected } of cases) {
    it(`${variable}=${value}`, () => {
      const plain = parseConfig(fileWithEverything, 'file.toml', {});
      assert.notDeepEqual(read(plain), expected, 'the file value differs, so the override is observable');
      const plan = parseConfig(fileWithEverything, 'file.toml', { [variable]: value });
      assert.deepEqual(read(plan), expected);
    });
  }

  it('a blank variable counts as unset', () => {
    const plan = parseConfig(fileWithEverything, 'file.toml', { WARPDRIVE_HTTP_PORT: '', WARPDRIVE_ADMIN_TOKEN: '  ' });
    assert.equal(plan.server.httpPort, 8080);
    assert.equal(plan.middleware.adminToken, 'from-file');
  });

  it('WARPDRIVE_ADMIN_TOKEN satisfies require_auth routes', () => {
    const toml = '[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n[[routes]]\nupstream = "app"\nrequire_auth = true\n';
    catchConfigError(() => parseConfig(toml, 'auth.toml', {}));
    assert.equal(parseConfig(toml, 'auth.toml', { WARPDRIVE_ADMIN_TOKEN: 't' }).routes[0]!.requireAuth, true);
  });
});

describe('bad env values name the variable and what is expected', () => {
  const cases: { env: NodeJS.ProcessEnv; path: string; hints: string[] }[] = [
    { env: { WARPDRIVE_HTTP_PORT: 'eighty' }, path: 'WARPDRIVE_HTTP_PORT', hints: ['port number 0-65535', 'found "eighty"'] },
    { env: { WARPDRIVE_HTTP_PORT: '70000' }, path: 'WARPDRIVE_HTTP_PORT', hints: ['port number 0-65535'] },
    { env: { WARPDRIVE_HTTP_PORT: '-1' }, path: 'WARPDRIVE_HTTP_PORT', hints: ['port number'] },
    { env: { WARPDRIVE_MAX_HEADER_BYTES: '16k' }, path: 'WARPDRIVE_MAX_HEADER_BYTES', hints: ['byte count'] },
    { env: { WARPDRIVE_BIND_ADDRESS: 'my-host' }, path: 'WARPDRIVE_BIND_ADDRESS', hints: ['IP address'] },
    { env: { WARPDRIVE_LOG_REQUESTS: 'maybe' }, path: 'WARPDRIVE_LOG_REQUESTS', hints: ['true/false'] },
    { env: { WARPDRIVE_TRUSTED_PROXIES: '10.0.0.1,10.0.0.0/33' }, path: 'WARPDRIVE_TRUSTED_PROXIES', hints: ['comma-separated', 'found "10.0.0.0/33"'] },
    { env: { WARPDRIVE_SHUTDOWN_TIMEOUT_SECS: '-5' }, path: 'WARPDRIVE_SHUTDOWN_TIMEOUT_SECS', hints: ['seconds >= 0'] },
    { env: { WARPDRIVE_TARGET_PORT: '0' }, path: 'WARPDRIVE_TARGET_PORT', hints: ['port number 1-65535'] },
    { env: { WARPDRIVE_TARGET_SOCKET: '/tmp/a.sock', WARPDRIVE_TARGET_PORT: '3000' }, path: 'WARPDRIVE_TARGET_SOCKET', hints: ['not both'] },
  ];
  for (const { env, path: variable, hints } of cases) {
    it(`${JSON.stringify(env)}`, () => {
      // Simple mode (no file) reads every variable, the target ones included.
      const error = catchConfigError(() => loadConfig({ env }));
      assert.equal(error.source, 'environment');
      const issue = error.issues.find((candidate) => candidate.path === variable);
      assert.ok(issue, error.message);
      for (const hint of hints) assert.ok(issue.message.includes(hint), `"${hint}" missing from: ${issue.message}`);
    });
  }

  it('bad env values are reported together with the file problems', () => {
    const error = catchConfigError(() => parseConfig(`${validBase}[server]\nhttp_port = "x"\n`, 'f.toml', { WARPDRIVE_LOG_REQUESTS: 'perhaps' }));
    assert.deepEqual(error.issues.map((issue) => issue.path), ['WARPDRIVE_LOG_REQUESTS', 'server.http_port']);
  });
});

describe('simple mode (no config file)', () => {
  it('defaults to 127.0.0.1:3000 behind one catch-all route', () => {
    const plan = loadConfig({ env: {} });
    assert.equal(plan.source, 'environment');
    assert.deepEqual([...plan.upstreams.keys()], ['default']);
    assert.deepEqual(plan.upstreams.get('default')!.instances[0]!.address, { kind: 'tcp', host: '127.0.0.1', port: 3000 });
    assert.equal(plan.upstreams.get('default')!.instances[0]!.id, 'default#0');
    assert.equal(plan.routes.length, 1);
    assert.equal(plan.routes[0]!.match.pathPrefix, '/');
    assert.equal(plan.routes[0]!.upstream, 'default');
    assert.equal(plan.server.httpPort, 8080);
    assert.deepEqual(plan.processOrder, []);
  });

  it('takes host and port from the environment, with overrides', () => {
    const plan = loadConfig({ env: { WARPDRIVE_TARGET_HOST: '10.1.2.3', WARPDRIVE_TARGET_PORT: '4000', WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_LOG_REQUESTS: 'yes' } });
    assert.deepEqual(plan.upstreams.get('default')!.instances[0]!.address, { kind: 'tcp', host: '10.1.2.3', port: 4000 });
    assert.equal(plan.server.httpPort, 0);
    assert.equal(plan.middleware.logRequests, true);
  });

  it('takes a Unix socket from the environment', () => {
    const plan = loadConfig({ env: { WARPDRIVE_TARGET_SOCKET: '/tmp/puma.sock' } });
    assert.deepEqual(plan.upstreams.get('default')!.instances[0]!.address, { kind: 'unix', socketPath: '/tmp/puma.sock' });
  });
});

describe('choosing the file', () => {
  it('WARPDRIVE_CONFIG names the file when --config is absent', () => {
    const plan = loadConfig({ env: { WARPDRIVE_CONFIG: seedTodayFile(), WARPDRIVE_ADMIN_TOKEN: 't' } });
    assert.equal(plan.source, seedTodayFile());
    assert.equal(plan.upstreams.size, 3);
  });

  it('--config wins over WARPDRIVE_CONFIG', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-config-'));
    try {
      const file = path.join(dir, 'mine.toml');
      writeFileSync(file, validBase);
      const plan = loadConfig({ configFile: file, env: { WARPDRIVE_CONFIG: path.join(dir, 'missing.toml') } });
      assert.equal(plan.source, file);
      assert.deepEqual([...plan.upstreams.keys()], ['app']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing file is a clear error naming the path and where it came from', () => {
    const missing = path.join(tmpdir(), 'wd-does-not-exist', 'warpdrive.toml');
    const viaFlag = catchConfigError(() => loadConfig({ configFile: missing, env: {} }));
    assert.equal(viaFlag.source, missing);
    assert.match(viaFlag.message, new RegExp(`config file not found: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(viaFlag.message, /--config/);
    const viaEnv = catchConfigError(() => loadConfig({ env: { WARPDRIVE_CONFIG: missing } }));
    assert.match(viaEnv.message, /WARPDRIVE_CONFIG/);
  });

  it('a directory instead of a file is a clear error', () => {
    const error = catchConfigError(() => loadConfig({ configFile: tmpdir(), env: {} }));
    assert.match(error.message, /is a directory/);
  });
});
