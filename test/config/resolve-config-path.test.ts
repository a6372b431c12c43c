/**
 * Relative paths in a config resolve against the config file's directory, never
 * the working directory: what compile() puts in the plan, and what `check` reports.
 * (test/integration/config-paths.test.ts starts the real CLI from elsewhere.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/index.js';
import { configBaseDir, maxSocketPathBytes, resolveConfigPath } from '../../src/config/resolve-config-path.js';
import { catchConfigError } from './fixtures.js';

const file = '/srv/shop/config/warpdrive.toml';
const route = '[[routes]]\nupstream = "app"\n';

describe('resolveConfigPath and configBaseDir', () => {
  const cases: ReadonlyArray<[base: string, input: string, expected: string]> = [
    ['/srv/shop/config', 'tmp/puma.sock', '/srv/shop/config/tmp/puma.sock'],
    ['/srv/shop/config', './puma.sock', '/srv/shop/config/puma.sock'],
    ['/srv/shop/config', '../tmp/puma.sock', '/srv/shop/tmp/puma.sock'],
    ['/srv/shop/config', '.', '/srv/shop/config'],
    ['/srv/shop/config', '/run/puma.sock', '/run/puma.sock'],
    ['/srv/shop/config', '/run/../run/puma.sock', '/run/puma.sock'],
  ];
  for (const [base, input, expected] of cases) {
    it(`${input} against ${base} -> ${expected}`, () => assert.equal(resolveConfigPath(base, input), expected));
  }

  it('the base of a file is its directory, resolved from the working directory', () => {
    assert.equal(configBaseDir('/etc/warpdrive/warpdrive.toml'), '/etc/warpdrive');
    assert.equal(configBaseDir('conf/w.toml', '/home/me'), '/home/me/conf');
    assert.equal(configBaseDir(undefined, '/home/me'), '/home/me');
  });
});

describe('compile(): every path in the plan is absolute, from the file\'s directory', () => {
  it('an upstream socket', () => {
    const plan = parseConfig(`[upstreams.app]\nsocket = "tmp/puma.sock"\n${route}`, file);
    assert.deepEqual(plan.upstreams.get('app')!.instances[0]!.address, { kind: 'unix', socketPath: '/srv/shop/config/tmp/puma.sock' });
    assert.equal(plan.baseDir, '/srv/shop/config');
  });

  it('instance sockets, absolute ones untouched', () => {
    const plan = parseConfig(
      `[upstreams.app]\n[[upstreams.app.instances]]\nsocket = "../tmp/a.sock"\n[[upstreams.app.instances]]\nsocket = "/run/b.sock"\n${route}`,
      file,
    );
    const sockets = plan.upstreams.get('app')!.instances.map((i) => (i.address.kind === 'unix' ? i.address.socketPath : ''));
    assert.deepEqual(sockets, ['/srv/shop/tmp/a.sock', '/run/b.sock']);
  });

  it('process.cwd: relative resolved, absent = the file\'s directory (upstream and instance processes)', () => {
    const plan = parseConfig(
      `[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\nprocess.command = "bin/rails"\nprocess.cwd = ".."\n` +
        `[upstreams.jobs]\n[[upstreams.jobs.instances]]\nhost = "127.0.0.1"\nport = 3001\nprocess.command = "bin/jobs"\n${route}`,
      file,
    );
    assert.equal(plan.upstreams.get('app')!.process!.cwd, '/srv/shop');
    assert.equal(plan.upstreams.get('jobs')!.instances[0]!.process!.cwd, '/srv/shop/config');
  });

  it('TLS certificate files and the ACME directory', () => {
    const files = parseConfig(
      `[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n${route}[tls]\nenabled = false\ncert_file = "certs/site.pem"\nkey_file = "/etc/ssl/site.key"\n`,
      file,
    );
    assert.deepEqual([files.tls?.fileCertificates[0]?.certFile, files.tls?.fileCertificates[0]?.keyFile], ['/srv/shop/config/certs/site.pem', '/etc/ssl/site.key']);
    const acme = parseConfig(`[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n${route}[tls]\nenabled = false\ndomains = ["shop.example"]\nacme_directory = "acme"\n`, file);
    assert.equal(acme.tls?.acme?.directory, '/srv/shop/config/acme');
  });

  it('loadConfig resolves against the file named by a relative --config, not against the working directory\'s root', () => {
    // A relative --config names a file under the working directory; its directory is the base.
    const error = catchConfigError(() => loadConfig({ configFile: 'no/such/dir/w.toml', env: {} }));
    assert.ok(error.message.includes(path.resolve('no/such/dir/w.toml')));
  });

  it('simple mode: WARPDRIVE_TARGET_SOCKET is relative to the working directory (no file)', () => {
    const plan = loadConfig({ env: { WARPDRIVE_TARGET_SOCKET: 'run/app.sock' } });
    assert.deepEqual(plan.upstreams.get('default')!.instances[0]!.address, { kind: 'unix', socketPath: path.resolve('run/app.sock') });
  });
});

describe('checks on resolved paths', () => {
  it('"a.sock" and "./a.sock" are the same address: two instances may not share it', () => {
    const error = catchConfigError(() =>
      parseConfig(`[upstreams.app]\n[[upstreams.app.instances]]\nsocket = "a.sock"\n[[upstreams.app.instances]]\nsocket = "./a.sock"\n${route}`, file),
    );
    assert.match(error.message, /upstreams\.app\.instances\[1\]: same address as upstreams\.app\.instances\[0\]/);
  });

  it('a relative socket that becomes too long once resolved is an error naming the resolved path and the limit', () => {
    const deepFile = `/${'d'.repeat(maxSocketPathBytes - 10)}/warpdrive.toml`;
    const error = catchConfigError(() => parseConfig(`[upstreams.app]\nsocket = "tmp/puma.sock"\n${route}`, deepFile));
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, new RegExp(`upstreams\\.app\\.socket: expected a Unix socket path of at most ${maxSocketPathBytes} bytes`));
    assert.match(error.message, /once resolved against the config file's directory \(\/d+\/tmp\/puma\.sock\)/);
    assert.match(error.message, /fix: use a shorter path/);
  });

  it('a socket path at the limit is accepted', () => {
    const socket = `/${'s'.repeat(maxSocketPathBytes - 1)}`;
    assert.equal(Buffer.byteLength(socket), maxSocketPathBytes);
    parseConfig(`[upstreams.app]\nsocket = "${socket}"\n${route}`, file);
  });
});
