/**
 * `warpdrive init` through the real CLI: it writes the Rails starter config, which
 * `check` accepts and which runs as written (with a stand-in for Puma as `bundle`),
 * and it never overwrites a file.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import WebSocket from 'ws';
import { fakePumaScript } from '../helpers/fake-puma.js';
import { tempDir } from '../helpers/upstream.js';
import { cleanEnv, runCli, startWarpdrive, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 30_000 };

describe('warpdrive init', () => {
  const running: RunningWarpdrive[] = [];
  after(async () => {
    for (const wd of running) await wd.stop();
  });

  test('writes warpdrive.toml in the working directory, which check accepts: Puma on a socket, /cable, public/ then Rails, health /up', bounded, async () => {
    const app = tempDir('wd-init-');
    mkdirSync(path.join(app, 'public')); // a Rails app has one: static_root checks it exists
    const init = await runCli(['init'], cleanEnv, app);
    assert.equal(init.code, 0, init.stderr);
    const file = path.join(app, 'warpdrive.toml');
    assert.match(init.stdout, new RegExp(`^wrote ${file.replaceAll('.', '\\.')}`));
    assert.match(init.stdout, /warpdrive check --config warpdrive\.toml/);

    const check = await runCli(['check', '--config', 'warpdrive.toml'], cleanEnv, app);
    assert.equal(check.code, 0, check.stderr);
    for (const line of [
      `    rails#0 unix:${path.join(app, 'tmp', 'puma.sock')}`,
      '    process: bundle exec puma --bind unix://tmp/puma.sock --environment production (env RAILS_ENV, RAILS_LOG_TO_STDOUT, WEB_CONCURRENCY)',
      '    health: GET /up every 10s (timeout 2s, down after 3, up after 2, ok 200-399)',
      '  1. path under /cable -> rails  # ActionCable WebSockets',
      `  2. path under / -> files from ${path.join(app, 'public')}, else rails  # public/, then Rails`,

      `admin: unix:${path.join(app, 'tmp', 'warpdrive-admin.sock')} (metrics at /metrics, dashboard at /, API under /api/; no token)`,
    ]) {
      assert.ok(check.stdout.split('\n').includes(line), `check shows ${JSON.stringify(line)}:\n${check.stdout}`);
    }
    assert.ok(!/not active yet/.test(check.stdout), 'every key of the starter takes effect');
    // Commented for a first reader: more lines of explanation than of settings.
    const lines = readFileSync(file, 'utf8').split('\n');
    const comments = lines.filter((line) => line.startsWith('#')).length;
    const settings = lines.filter((line) => /^[a-z_.]+ = /.test(line)).length;
    assert.ok(comments > settings, `${comments} comment lines for ${settings} settings`);
  });

  test('runs as written: the process starts in the app directory, pages and /cable reach it, assets come from public/, status works', bounded, async () => {
    const app = tempDir('wd-init-run-');
    mkdirSync(path.join(app, 'tmp'));
    mkdirSync(path.join(app, 'public', 'assets'), { recursive: true });
    writeFileSync(path.join(app, 'public', 'assets', 'application-0123abcd.css'), 'body{color:red}');
    const init = await runCli(['init', path.join(app, 'warpdrive.toml')], cleanEnv);
    assert.equal(init.code, 0, init.stderr);
    // `bundle` on PATH is the stand-in for Puma; the port becomes any free one.
    const bin = tempDir('wd-init-bin-');
    writeFileSync(path.join(bin, 'bundle'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(fakePumaScript())} "$@"\n`);
    chmodSync(path.join(bin, 'bundle'), 0o755);
    const wd = await startWarpdrive(path.join(app, 'warpdrive.toml'), {
      cwd: tempDir('wd-init-elsewhere-'),
      env: { ...cleanEnv, PATH: `${bin}:${process.env.PATH ?? ''}`, WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_BIND_ADDRESS: '127.0.0.1' },
    });
    running.push(wd);

    for (const url of ['/', '/orders/1']) {
      const res = await request(`${wd.url}${url}`);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(await res.body.json(), { app: 'fake-puma', cwd: app, url, env: 'production' });
    }
    // A precompiled asset comes from public/ without Puma, cached for a year.
    const asset = await request(`${wd.url}/assets/application-0123abcd.css`);
    assert.equal(asset.statusCode, 200);
    assert.equal(await asset.body.text(), 'body{color:red}');
    assert.match(String(asset.headers['cache-control']), /immutable/);

    const ws = new WebSocket(`ws://127.0.0.1:${wd.port}/cable`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('{"command":"subscribe"}'));
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    assert.equal(echoed, '{"command":"subscribe"}');
    ws.close();

    // The starter's admin socket serves `warpdrive status` from another shell and directory.
    const status = await runCli(['status', '--config', path.join(app, 'warpdrive.toml')], cleanEnv, tempDir('wd-init-status-'));
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^rails\s+rails#0\s+unix:\S+tmp\/puma\.sock\s+rails\s+\d+\s+\S+\s+0\s+[\d.]+%\s+[\d.]+ MiB\s+up\s+[\d.]+$/m);
    assert.equal(await wd.stop(), 0);
  });

  test('never overwrites: an existing file is kept as it was, exit 2 with the fix', bounded, async () => {
    const app = tempDir('wd-init-exists-');
    const file = path.join(app, 'warpdrive.toml');
    writeFileSync(file, '# my own config\n');
    const init = await runCli(['init'], cleanEnv, app);
    assert.equal(init.code, 2);
    assert.equal(readFileSync(file, 'utf8'), '# my own config\n');
    assert.match(init.stderr, new RegExp(`^warpdrive init: ${file.replaceAll('.', '\\.')} already exists, and init never overwrites a file; nothing was written\\. Fix: `));
    assert.ok(!init.stderr.includes('    at '), init.stderr);
  });

  test('a file in a directory that does not exist: exit 2 naming it', bounded, async () => {
    const missing = path.join(tempDir('wd-init-nodir-'), 'no', 'such', 'warpdrive.toml');
    const init = await runCli(['init', missing], cleanEnv);
    assert.equal(init.code, 2);
    assert.match(init.stderr, /its directory does not exist/);
    assert.ok(init.stderr.includes(missing));
  });

  test('two file names: exit 2, init takes one', bounded, async () => {
    const init = await runCli(['init', 'a.toml', 'b.toml'], cleanEnv, tempDir('wd-init-two-'));
    assert.equal(init.code, 2);
    assert.match(init.stderr, /warpdrive init takes at most 1 argument \(file\), found "b\.toml"/);
  });
});
