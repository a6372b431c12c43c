/**
 * The `warpdrive` command as a user runs it: real child processes, real
 * upstreams, real sockets. Exit codes: 0 ok, 1 runtime failure (port in use,
 * native binary missing), 2 bad configuration or arguments.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { request } from 'undici';
import { echoHandler, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { cleanEnv, runCli, startWarpdrive, writeConfig } from '../helpers/warpdrive.js';
import { seedTodayFile, seedWithoutUnavailable } from '../config/fixtures.js';

/** test/fixtures/config, found from the compiled test (outDir/test/integration) or the sources. */
function fixturesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'test', 'fixtures', 'config');
    if (existsSync(path.join(candidate, 'seed-complete.toml'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('test/fixtures/config not found above the compiled test');
}
const fixtures = fixturesDir();
const fixture = (name: string): string => path.join(fixtures, name);

/** Bounds every test that waits for a child process, so a hang fails instead of stalling the suite. */
const bounded = { timeout: 20_000 };

function configFor(upstream: TestUpstream, server = 'http_port = 0'): string {
  return writeConfig(`
[server]
${server}
bind_address = "127.0.0.1"

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "app"
`);
}

describe('warpdrive CLI: help, version, unknown commands', () => {
  test('--help lists the commands and the --config option, exit 0', bounded, async () => {
    const { code, stdout } = await runCli(['--help'], cleanEnv);
    assert.equal(code, 0);
    for (const word of ['check', 'routes', '--config', '--version']) assert.ok(stdout.includes(word), `--help mentions ${word}:\n${stdout}`);
  });

  test('--version prints the package version, exit 0', bounded, async () => {
    const { code, stdout } = await runCli(['--version'], cleanEnv);
    assert.equal(code, 0);
    assert.match(stdout, /warpdrive\/\d+\.\d+\.\d+/);
  });

  test('an unknown command exits 2 and says which commands exist', bounded, async () => {
    const { code, stderr } = await runCli(['frobnicate'], cleanEnv);
    assert.equal(code, 2);
    assert.match(stderr, /unknown command "frobnicate"/);
    assert.match(stderr, /check/);
  });
});

describe('warpdrive check', () => {
  test('the seed\'s complete example is refused only for X-Sendfile without roots, with its fix, exit 2', bounded, async () => {
    const { code, stderr } = await runCli(['check', '--config', fixture('seed-complete.toml')], { ...cleanEnv, WARPDRIVE_ADMIN_TOKEN: 'cli-test' });
    assert.equal(code, 2);
    assert.match(stderr, /^ {2}- middleware\.x_sendfile_enabled: true, but no directory is allowed to serve files from.*; fix: add x_sendfile_roots = /m);
    // Every other feature of the seed is built now: TLS, compression, [cache] and [postgres].
    assert.doesNotMatch(stderr, /is not available in this version of warpdrive yet|gzip_compression_enabled|^ {2}- (cache|postgres|tls)/m);
  });

  test('the seed\'s example without those features is valid: summary names upstreams and routes, exit 0', bounded, async () => {
    const file = writeConfig(seedWithoutUnavailable());
    const { code, stdout, stderr } = await runCli(['check', '--config', file], { ...cleanEnv, WARPDRIVE_ADMIN_TOKEN: 'cli-test' });
    assert.equal(code, 0, stderr);
    for (const upstream of ['rails', 'cable', 'sidekiq']) assert.match(stdout, new RegExp(`^\\s+${upstream}:`, 'm'), `upstream ${upstream} listed`);
    assert.match(stdout, /routes \(4, first match wins\)/);
    assert.match(stdout, /path under \/cable -> cable/);
    assert.ok(!stdout.includes('cli-test'), 'the admin token is never printed');
  });

  test('the seed\'s example without an admin token exits 2 and says how to set one', bounded, async () => {
    const { code, stderr } = await runCli(['check', '--config', writeConfig(seedWithoutUnavailable())], cleanEnv);
    assert.equal(code, 2);
    assert.match(stderr, /routes\[1\]\.require_auth/);
    assert.match(stderr, /WARPDRIVE_ADMIN_TOKEN/);
  });

  // Each broken fixture: a key path the message must name, and the hint it must give.
  const broken: ReadonlyArray<[file: string, keyPath: string, hint: RegExp]> = [
    ['broken-cycle.toml', 'upstreams.web.process.depends_on', /cycle: web -> worker -> web; fix:/],
    ['broken-many.toml', 'routes[2].upstream', /did you mean "app"/],
    ['broken-misspelt-key.toml', 'upstreams.api.stratgy', /did you mean "strategy"/],
    ['broken-require-auth.toml', 'routes[0].require_auth', /fix: add admin_token/],
    ['broken-syntax.toml', 'line 6', /fix: correct the TOML syntax/],
    ['broken-unknown-upstream.toml', 'routes[1].upstream', /did you mean "api"/],
  ];
  for (const [file, keyPath, hint] of broken) {
    test(`${file}: exit 2, names the file, ${keyPath} and a hint`, bounded, async () => {
      const { code, stderr, stdout } = await runCli(['check', '--config', fixture(file)], cleanEnv);
      assert.equal(code, 2, stdout + stderr);
      assert.ok(stderr.includes(fixture(file)), `names the file:\n${stderr}`);
      assert.ok(stderr.includes(keyPath), `names ${keyPath}:\n${stderr}`);
      assert.match(stderr, hint);
      assert.ok(!stderr.includes('    at '), `no stack trace:\n${stderr}`);
    });
  }

  test('broken-many.toml reports every problem at once, not just the first', bounded, async () => {
    const { code, stderr } = await runCli(['check', '--config', fixture('broken-many.toml')], cleanEnv);
    assert.equal(code, 2);
    for (const keyPath of ['server.http_port', 'routes[0].path_prefix', 'routes[1].path_regex', 'routes[2].strategy', 'upstreams.app.port', 'upstreams.files.socket']) {
      assert.ok(stderr.includes(keyPath), `names ${keyPath}:\n${stderr}`);
    }
  });

  test('a missing config file exits 2 and names the path', bounded, async () => {
    const missing = path.join(fixtures, 'does-not-exist.toml');
    const { code, stderr } = await runCli(['check', '--config', missing], cleanEnv);
    assert.equal(code, 2);
    assert.ok(stderr.includes(missing), stderr);
    assert.match(stderr, /not found/);
  });

  test('running with a missing config file exits 2 too (not only check)', bounded, async () => {
    const missing = path.join(fixtures, 'does-not-exist.toml');
    const { code, stderr } = await runCli(['--config', missing], cleanEnv);
    assert.equal(code, 2);
    assert.ok(stderr.includes(missing), stderr);
  });

  test('a bad env value exits 2 naming the variable and the fix', bounded, async () => {
    const { code, stderr } = await runCli(['check', '--config', fixture('minimal.toml')], { ...cleanEnv, WARPDRIVE_HTTP_PORT: 'eighty' });
    assert.equal(code, 2);
    assert.match(stderr, /WARPDRIVE_HTTP_PORT: expected a port number/);
    assert.match(stderr, /"eighty"/);
    assert.match(stderr, /fix:/);
  });

  test('a bad env value stops a run as well, before anything listens', bounded, async () => {
    const { code, stderr } = await runCli([], { ...cleanEnv, WARPDRIVE_TARGET_PORT: '70000', WARPDRIVE_HTTP_PORT: '0' });
    assert.equal(code, 2);
    assert.match(stderr, /WARPDRIVE_TARGET_PORT/);
  });
});

describe('warpdrive routes', () => {
  test('routes --config prints the route table', bounded, async () => {
    const { code, stdout, stderr } = await runCli(['routes', '--config', fixture('minimal.toml')], cleanEnv);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /path under \/\s+app/);
    assert.match(stdout, /1 route, first match wins/);
  });

  test('routes --explain "GET http://example.com/cable" names the matching route and upstream', bounded, async () => {
    const { code, stdout, stderr } = await runCli(
      ['routes', '--config', seedTodayFile(), '--explain', 'GET http://example.com/cable'],
      { ...cleanEnv, WARPDRIVE_ADMIN_TOKEN: 'cli-test' },
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /#1\s+MATCH/);
    assert.match(stdout, /Route #1 matches: upstream "cable"/);
  });

  test('routes --explain for a request nothing matches says so', bounded, async () => {
    const { code, stdout, stderr } = await runCli(
      ['routes', '--config', seedTodayFile(), '--explain', 'GET http://nobody.test/'],
      { ...cleanEnv, WARPDRIVE_ADMIN_TOKEN: 'cli-test' },
    );
    assert.equal(code, 0, stderr);
    assert.ok(!/Route #\d+ matches/.test(stdout), stdout);
    assert.match(stdout, /#4\s+no\s+host "nobody.test" does not match "www.example.com"/);
    assert.match(stdout, /No route matches: warpdrive answers 404/);
  });
});

describe('warpdrive run', () => {
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream(echoHandler('cli'));
  });
  after(async () => {
    await upstream.close();
  });

  test('a port already in use: exit 1 promptly, naming the port and the fix', bounded, async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const { code, stderr } = await runCli(['--config', configFor(upstream, `http_port = ${port}`)], cleanEnv);
      assert.equal(code, 1);
      assert.ok(stderr.includes(`127.0.0.1:${port}`), stderr);
      assert.match(stderr, /in use/);
      assert.match(stderr, /WARPDRIVE_HTTP_PORT|http_port/);
      assert.ok(!stderr.includes('    at '), `no stack trace:\n${stderr}`);
    } finally {
      blocker.close();
    }
  });

  test('simple mode: no config file, WARPDRIVE_TARGET_* proxies everything to one upstream', bounded, async () => {
    const wd = await startWarpdrive(undefined, {
      env: { ...cleanEnv, WARPDRIVE_TARGET_HOST: '127.0.0.1', WARPDRIVE_TARGET_PORT: String(upstream.port), WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_BIND_ADDRESS: '127.0.0.1' },
    });
    try {
      const res = await request(`${wd.url}/anything/here?x=1`);
      assert.equal(res.statusCode, 200);
      const echo = (await res.body.json()) as { name: string; url: string };
      assert.equal(echo.name, 'cli');
      assert.equal(echo.url, '/anything/here?x=1');
      assert.match(wd.output(), /config: environment/);
    } finally {
      assert.equal(await wd.stop(), 0);
    }
  });

  test('WARPDRIVE_CONFIG names the file when --config is absent', bounded, async () => {
    const file = configFor(upstream);
    const wd = await startWarpdrive(undefined, { env: { ...cleanEnv, WARPDRIVE_CONFIG: file } });
    try {
      const res = await request(`${wd.url}/via-env-config`);
      assert.equal(res.statusCode, 200);
      assert.equal(((await res.body.json()) as { url: string }).url, '/via-env-config');
      assert.ok(wd.output().includes(`config: ${file}`), wd.output());
    } finally {
      await wd.stop();
    }
  });

  test('WARPDRIVE_HTTP_PORT overrides the file\'s http_port (env wins)', bounded, async () => {
    // The file names a port that is taken: only the env override lets warpdrive start.
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const wd = await startWarpdrive(configFor(upstream, `http_port = ${taken}`), { env: { ...cleanEnv, WARPDRIVE_HTTP_PORT: '0' } });
      try {
        assert.notEqual(wd.port, taken);
        const res = await request(`${wd.url}/env-port`);
        assert.equal(res.statusCode, 200);
        await res.body.dump();
      } finally {
        await wd.stop();
      }
    } finally {
      blocker.close();
    }
  });

  test('UWS_USE_FALLBACK=1 (pure-JS fallback forced): refuses to start, exit 1, names the variable to unset', bounded, async () => {
    const { code, stderr } = await runCli(['--config', configFor(upstream)], { ...cleanEnv, UWS_USE_FALLBACK: '1' });
    assert.equal(code, 1);
    assert.match(stderr, /fallback/);
    assert.match(stderr, /Fix: unset UWS_USE_FALLBACK/);
    assert.ok(!/listening on/.test(stderr), 'never listened on the fallback');
  });

  test('SIGTERM with a slow request in flight: the request completes, then exit 0', bounded, async () => {
    let release: (() => void) | undefined;
    let arrived: (() => void) | undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const slow = await startUpstream((req, res) => {
      req.resume();
      arrived?.();
      release = () => res.end('slow body, complete');
    });
    const wd = await startWarpdrive(configFor(slow));
    try {
      const pending = request(`${wd.url}/slow`);
      await arrival;
      // Wait for warpdrive to say it is draining: the real event, not a sleep.
      const draining = new Promise<void>((resolve) => {
        const onData = (): void => {
          if (/waiting for 1 in-flight request/.test(wd.output())) resolve();
        };
        wd.child.stdout!.on('data', onData);
        wd.child.stderr!.on('data', onData);
      });
      wd.child.kill('SIGTERM');
      await draining;
      assert.equal(wd.child.exitCode, null, 'still running while the request is in flight');
      release!();
      const res = await pending;
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'slow body, complete');
      assert.equal(await wd.exited, 0);
    } finally {
      await wd.stop();
      await slow.close();
    }
  });
});
