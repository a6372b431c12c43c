/**
 * `[admin]` and the logging keys of `[middleware]` as the loader takes them: what
 * is accepted, and each mistake named with its fix.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { catchConfigError } from './fixtures.js';

const base = '[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n[[routes]]\nupstream = "app"\n';
const file = '/srv/app/warpdrive.toml';

describe('[admin]', () => {
  const cases: ReadonlyArray<[listen: string, expected: unknown]> = [
    ['127.0.0.1:9180', { kind: 'tcp', host: '127.0.0.1', port: 9180 }],
    ['[::1]:9180', { kind: 'tcp', host: '::1', port: 9180 }],
    ['localhost:9180', { kind: 'tcp', host: 'localhost', port: 9180 }],
    ['/run/warpdrive/admin.sock', { kind: 'unix', socketPath: '/run/warpdrive/admin.sock' }],
    ['tmp/admin.sock', { kind: 'unix', socketPath: '/srv/app/tmp/admin.sock' }],
  ];
  for (const [listen, expected] of cases) {
    it(`listen = "${listen}"`, () => {
      assert.deepEqual(parseConfig(`${base}[admin]\nlisten = "${listen}"\n`, file).admin, { listen: expected, token: undefined });
    });
  }

  it('absent: no admin listener', () => assert.equal(parseConfig(base, file).admin, undefined));

  it('beyond loopback without a token: an error saying why and how', () => {
    const error = catchConfigError(() => parseConfig(`${base}[admin]\nlisten = "0.0.0.0:9180"\n`, file));
    assert.match(error.message, /admin\.token: required when the admin listener is reachable from other machines \(listen = "0\.0\.0\.0:9180"\).*fix: add token = "\.\.\." under \[admin\] \(or export WARPDRIVE_ADMIN_API_TOKEN=\.\.\.\)/);
  });

  it('beyond loopback with a token from the environment: accepted, the variable wins', () => {
    const plan = parseConfig(`${base}[admin]\nlisten = "0.0.0.0:9180"\ntoken = "from-file"\n`, file, { WARPDRIVE_ADMIN_API_TOKEN: 'from-env' });
    assert.equal(plan.admin?.token, 'from-env');
  });

  for (const [listen, message] of [
    ['9180', /admin\.listen: expected "HOST:PORT" \(an IP address or localhost, and a port 0-65535\) or a Unix socket path, found "9180"; fix: for example listen = "127\.0\.0\.1:9180"/],
    ['example.com:9180', /admin\.listen: expected "HOST:PORT"/],
    ['127.0.0.1:70000', /admin\.listen: expected "HOST:PORT"/],
  ] as const) {
    it(`listen = "${listen}" is refused`, () => assert.match(catchConfigError(() => parseConfig(`${base}[admin]\nlisten = "${listen}"\n`, file)).message, message));
  }

  it('the proxy\'s own port, a missing listen and an unknown key are refused', () => {
    assert.match(catchConfigError(() => parseConfig(`[server]\nhttp_port = 8080\n${base}[admin]\nlisten = "127.0.0.1:8080"\n`, file)).message, /admin\.listen: port 8080 is server\.http_port as well/);
    assert.match(catchConfigError(() => parseConfig(`${base}[admin]\ntoken = "t"\n`, file)).message, /required key "listen" is missing from \[admin\]/);
    assert.match(catchConfigError(() => parseConfig(`${base}[admin]\nlisten = "127.0.0.1:9180"\ntokn = "t"\n`, file)).message, /unknown key "tokn" in \[admin\] \(did you mean "token"\?\)/);
  });
});

describe('[middleware] logging keys', () => {
  it('defaults: combined to stdout, X-Request-Id on, X-Request-Start off', () => {
    const { middleware } = parseConfig(`${base}[middleware]\nlog_requests = true\n`, file);
    assert.deepEqual([middleware.logFormat, middleware.logFile, middleware.requestId, middleware.requestStartHeader], ['combined', undefined, true, false]);
  });

  it('log_file is relative to the config file', () => {
    assert.equal(parseConfig(`${base}[middleware]\nlog_requests = true\nlog_file = "log/access.log"\n`, file).middleware.logFile, '/srv/app/log/access.log');
  });

  it('log_format and log_file without log_requests are refused (they would do nothing)', () => {
    const error = catchConfigError(() => parseConfig(`${base}[middleware]\nlog_format = "json"\nlog_file = "a.log"\n`, file));
    assert.match(error.message, /middleware\.log_format: set while log_requests is false.*fix: add log_requests = true, or remove log_format/);
    assert.match(error.message, /middleware\.log_file: set while log_requests is false/);
  });

  it('an unknown format names the two there are', () => {
    assert.match(catchConfigError(() => parseConfig(`${base}[middleware]\nlog_requests = true\nlog_format = "jsno"\n`, file)).message, /expected one of "combined", "json", found "jsno" \(did you mean "json"\?\)/);
  });
});
