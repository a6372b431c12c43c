/**
 * Mistakes on the command line, made through the real CLI: each exits 2 with one
 * paragraph (what was wrong, what is valid, where to read more) and no stack trace,
 * and nothing starts listening. The log level from the flag reaches every thread.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { request } from 'undici';
import { tempDir } from '../helpers/upstream.js';
import { cleanEnv, outputMatching, repoRoot, runCli, startWarpdrive, writeConfig } from '../helpers/warpdrive.js';

const bounded = { timeout: 20_000 };

/** A valid config, so that a mistake on the command line is the only thing wrong. */
let validConfig: string;
before(() => {
  validConfig = writeConfig('[server]\nhttp_port = 0\nbind_address = "127.0.0.1"\n[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n[[routes]]\nupstream = "app"\n');
});

/**
 * Each case: the arguments, then what the paragraph must say. A run that slipped
 * through would start the proxy (on port 0): the test would then time out or see
 * exit 0, never a false pass.
 */
const mistakes: ReadonlyArray<{ name: string; args: (config: string) => string[]; says: RegExp[] }> = [
  { name: 'a misspelt option', args: (c) => ['--confg', c], says: [/unknown option --confg/, /did you mean "--config"/, /Options of warpdrive: --config <file>/] },
  { name: 'a misspelt option of check', args: (c) => ['check', '--confg', c], says: [/unknown option --confg/, /Options of warpdrive check: --config <file>/] },
  { name: 'an unknown short option', args: (c) => ['-x', '--config', c], says: [/unknown option -x/] },
  { name: 'an option of another command', args: (c) => ['check', '--config', c, '--only', 'web'], says: [/unknown option --only/, /--only is an option of warpdrive\b/] },
  { name: '--config without its file, at the end', args: () => ['--config'], says: [/option --config was given without its value/, /--config <file>/, /--config=VALUE/] },
  { name: '--config without its file, before another option', args: () => ['--config', '--log-level', 'debug'], says: [/option --config was given without its value/] },
  { name: '--config= (empty)', args: () => ['check', '--config='], says: [/option --config was given without its value/] },
  { name: '--only without names', args: (c) => ['--config', c, '--only'], says: [/option --only was given without its value/, /--only <names>/] },
  { name: 'routes -H without a header', args: (c) => ['routes', '--config', c, '--explain', 'GET http://a/', '-H'], says: [/option --header was given without its value/] },
  { name: '--config given twice', args: (c) => ['check', '--config', c, '--config', 'other.toml'], says: [/option --config was given 2 times/, /"other\.toml"/, /takes one value/] },
  { name: 'an unknown command', args: () => ['frobnicate'], says: [/unknown command "frobnicate"/, /Commands: check, purge, reload, routes, status, restart, init;/] },
  { name: 'a misspelt command', args: () => ['chekc'], says: [/unknown command "chekc" \(did you mean "check"\?\)/] },
  { name: 'the config file as a command', args: () => ['warpdrive.toml'], says: [/unknown command "warpdrive\.toml"/, /warpdrive --config warpdrive\.toml/] },
  { name: 'a word after check', args: (c) => ['check', '--config', c, 'extra'], says: [/warpdrive check takes no arguments, found "extra"/] },
  { name: 'an invalid --log-level', args: (c) => ['--config', c, '--log-level', 'verbose'], says: [/--log-level "verbose" is not a log level/, /valid: debug, info, warn, error/] },
];

describe('argument mistakes: exit 2, one paragraph, no stack trace', () => {
  for (const mistake of mistakes) {
    test(mistake.name, bounded, async () => {
      const { code, stdout, stderr } = await runCli(mistake.args(validConfig), cleanEnv);
      assert.equal(code, 2, `exit code; stdout:\n${stdout}\nstderr:\n${stderr}`);
      const paragraph = stderr.trim();
      assert.ok(!paragraph.includes('\n'), `one paragraph:\n${stderr}`);
      assert.ok(!/\bat .*\(?file:|CACError|TypeError/.test(stderr), `no stack trace or internal error name:\n${stderr}`);
      assert.match(paragraph, /^warpdrive: /);
      assert.match(paragraph, /warpdrive --help/);
      for (const pattern of mistake.says) assert.match(paragraph, pattern);
      assert.equal(stdout, '', 'nothing on stdout: no summary, no listening line');
    });
  }
});

describe('WARPDRIVE_LOG_LEVEL', () => {
  test('an invalid value stops check with exit 2, naming the variable and the valid levels', bounded, async () => {
    const { code, stderr } = await runCli(['check', '--config', validConfig], { ...cleanEnv, WARPDRIVE_LOG_LEVEL: 'verbose' });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /WARPDRIVE_LOG_LEVEL: expected a log level: debug, info, warn, error, found "verbose"; fix:/);
    assert.ok(!stderr.includes('    at '), `no stack trace:\n${stderr}`);
  });

  test('an invalid value stops a run before it listens (simple mode too)', bounded, async () => {
    const { code, stderr, stdout } = await runCli([], { ...cleanEnv, WARPDRIVE_LOG_LEVEL: 'loud', WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_BIND_ADDRESS: '127.0.0.1' });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /WARPDRIVE_LOG_LEVEL/);
    assert.ok(!/listening on/.test(stdout + stderr));
  });

  test('upper case is accepted, as the flag accepts it', bounded, async () => {
    const { code, stderr } = await runCli(['check', '--config', validConfig], { ...cleanEnv, WARPDRIVE_LOG_LEVEL: 'WARN' });
    assert.equal(code, 0, stderr);
  });
});

describe('--log-level reaches the worker threads', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  // The supervisor runs in a worker thread and decides there whether a child's output
  // is shown (hidden at warn and error). The flag must win over the environment there too,
  // not only on the main thread.
  test('--log-level debug over WARPDRIVE_LOG_LEVEL=error: the listening line and a child\'s output are both shown', bounded, async () => {
    const socket = path.join(tempDir('wd-args-'), 'talk.sock');
    const config = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.app]
socket = ${JSON.stringify(socket)}
process.command = ${JSON.stringify(process.execPath)}
process.args = [${JSON.stringify(path.join(repoRoot(), 'examples', 'demo-app.mjs'))}]
process.env = { APP_NAME = "child-that-talks", LISTEN = ${JSON.stringify(socket)} }

[[routes]]
upstream = "app"
`);
    const wd = await startWarpdrive(config, { env: { ...cleanEnv, WARPDRIVE_LOG_LEVEL: 'error' }, args: ['--log-level', 'debug'] });
    cleanups.push(() => wd.stop());
    const res = await request(`${wd.url}/`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    // The child printed its line before it became ready; the supervisor thread forwards it
    // asynchronously, so wait for it (bounded by the test timeout), not for a fixed time.
    await outputMatching(wd, /child-that-talks listening on/);
    assert.equal(await wd.stop(), 0);
  });
});
