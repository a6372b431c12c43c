/**
 * Relative paths in a config file resolve against the file's directory: the real
 * CLI started from another working directory (as systemd starts it from `/`) finds
 * the sockets and runs the processes where the file says, and the repository's demo
 * `warpdrive.toml` works from anywhere.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { tempDir } from '../helpers/upstream.js';
import { cleanEnv, outputMatching, repoRoot, runCli, startWarpdrive, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 30_000 };

async function getJson(url: string): Promise<{ status: number; body: { app?: string; url?: string } }> {
  const res = await request(url);
  return { status: res.statusCode, body: (await res.body.json()) as { app?: string; url?: string } };
}

/** Whether something accepts connections on 127.0.0.1:port (the demo's fixed upstream ports). */
async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('relative paths resolve against the config file, whatever the working directory', () => {
  const running: RunningWarpdrive[] = [];
  after(async () => {
    for (const wd of running) await wd.stop();
  });

  test('a relative socket, process args and --config, started from another directory', bounded, async () => {
    // project/conf/warpdrive.toml with conf/bin/app.mjs and conf/run/ for the socket;
    // warpdrive starts in elsewhere/, a sibling, with --config ../project/conf/warpdrive.toml.
    const root = tempDir('wd-paths-');
    const conf = path.join(root, 'project', 'conf');
    mkdirSync(path.join(conf, 'bin'), { recursive: true });
    mkdirSync(path.join(conf, 'run'));
    copyFileSync(path.join(repoRoot(), 'examples', 'demo-app.mjs'), path.join(conf, 'bin', 'app.mjs'));
    const elsewhere = path.join(root, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(
      path.join(conf, 'warpdrive.toml'),
      `[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.app]
socket = "run/app.sock"            # conf/run/app.sock
process.command = ${JSON.stringify(process.execPath)}
process.args = ["bin/app.mjs"]     # the process runs in conf/, the file's directory
process.env = { APP_NAME = "relative", LISTEN = "run/app.sock" }

[[routes]]
upstream = "app"
`,
    );

    const check = await runCli(['check', '--config', '../project/conf/warpdrive.toml'], cleanEnv, elsewhere);
    assert.equal(check.code, 0, check.stderr);
    assert.ok(check.stdout.includes(`unix:${path.join(conf, 'run', 'app.sock')}`), check.stdout);
    assert.ok(check.stdout.includes(`relative paths from: ${conf}`), check.stdout);

    const wd = await startWarpdrive('../project/conf/warpdrive.toml', { cwd: elsewhere, env: cleanEnv });
    running.push(wd);
    const answer = await getJson(`${wd.url}/hello`);
    assert.equal(answer.status, 200);
    assert.deepEqual([answer.body.app, answer.body.url], ['relative', '/hello']);
    assert.ok(existsSync(path.join(conf, 'run', 'app.sock')), 'the socket is where the file says');
    assert.deepEqual(readdirSync(elsewhere), [], 'nothing was created in the working directory');
    assert.equal(await wd.stop(), 0);
  });

  test('the repository\'s demo warpdrive.toml, started from the filesystem root', bounded, async (t) => {
    // The demo's api instances listen on fixed ports 3101 and 3102 (it shows TCP instances);
    // if something else holds them the demo cannot start, and that says nothing about paths.
    for (const port of [3101, 3102]) {
      if (await portAnswers(port)) {
        t.skip(`port ${port}, which the demo's api instance uses, is taken by another program on this machine`);
        return;
      }
    }
    const wd = await startWarpdrive(path.join(repoRoot(), 'warpdrive.toml'), {
      cwd: '/',
      env: { ...cleanEnv, WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_BIND_ADDRESS: '127.0.0.1' },
    });
    running.push(wd);
    // warpdrive listens while its processes start; round robin then uses the ready ones.
    // Both api instances must be ready before the requests can show that both answer.
    await outputMatching(wd, /api#0 \(127\.0\.0\.1:3101\) process ready/);
    await outputMatching(wd, /api#1 \(127\.0\.0\.1:3102\) process ready/);
    const web = await getJson(`${wd.url}/`);
    assert.equal(web.status, 200);
    assert.equal(web.body.app, 'web');
    const apps = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const api = await getJson(`${wd.url}/api/users`);
      assert.equal(api.status, 200);
      assert.equal(api.body.url, '/users');
      apps.add(api.body.app!);
    }
    assert.deepEqual([...apps].sort(), ['api-0', 'api-1'], 'both api processes started from the repository and answer');
    assert.equal(await wd.stop(), 0);
  });
});
