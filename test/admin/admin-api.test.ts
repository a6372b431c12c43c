/**
 * The admin listener's JSON API and access rules, against a running warpdrive
 * (real CLI, real upstreams, real supervised processes, two proxy threads):
 * tokens beyond loopback, drain and enable (on every thread), a rolling restart
 * that loses no request, reload, and the CLI's `status` and `restart`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstatSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { admin } from '../helpers/admin.js';
import { startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { cleanEnv, outputMatching, repoRoot, runCli, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 60_000 };

/** Who answers `count` requests, each on its own connection (so both proxy threads take some). */
async function whoAnswers(url: string, count: number): Promise<{ bodies: Map<string, number>; statuses: Set<number> }> {
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const res = await request(url, { reset: true });
      return { status: res.statusCode, body: await res.body.text() };
    }),
  );
  const bodies = new Map<string, number>();
  for (const a of answers) bodies.set(a.body, (bodies.get(a.body) ?? 0) + 1);
  return { bodies, statuses: new Set(answers.map((a) => a.status)) };
}

describe('admin listener on TCP: a token beyond loopback, the dashboard page', () => {
  let wd: RunningWarpdrive;
  let base: string;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream((_req, res) => res.end('ok'));
    const config = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[admin]
listen = "127.0.0.1:0"
token = "s3cret-token"

[upstreams.app]
${upstream.toml}

[[routes]]
upstream = "app"
`);
    wd = await startWarpdrive(config, { env: cleanEnv });
    await outputMatching(wd, /admin listener on http:\/\/127\.0\.0\.1:\d+/);
    base = /admin listener on (http:\/\/127\.0\.0\.1:\d+)/.exec(wd.output())![1]!;
  });
  after(async () => {
    await wd?.stop();
    await upstream?.close();
  });

  test('without the token or with a wrong one: 401 and a WWW-Authenticate challenge, for metrics and the API', bounded, async () => {
    for (const pathname of ['/metrics', '/api/status', '/api/logs']) {
      for (const token of [undefined, 'wrong', 's3cret-token-and-more']) {
        const answer = await admin(base, pathname, { token });
        assert.equal(answer.status, 401, `${pathname} with ${token}`);
        assert.match(String(answer.headers['www-authenticate']), /^Bearer/);
      }
    }
    const mutations = await admin(base, '/api/instances/app%230/drain', { method: 'POST' });
    assert.equal(mutations.status, 401);
  });

  test('with the token: 200', bounded, async () => {
    const metrics = await admin(base, '/metrics', { token: 's3cret-token' });
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^warpdrive_info\{version="\d+\.\d+\.\d+"\} 1$/m);
  });

  test('the dashboard page needs no token (it holds no data) and loads nothing from elsewhere', bounded, async () => {
    const page = await admin(base, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.ok(!/<script[^>]+src=|<link[^>]+href=|@import|url\(/i.test(page.text), 'self-contained');
    assert.match(page.text, /fetch\(path/);
  });

  test('unknown paths and wrong methods are told what exists', bounded, async () => {
    assert.equal((await admin(base, '/nope', { token: 's3cret-token' })).status, 404);
    const wrong = await admin(base, '/api/reload', { token: 's3cret-token' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'POST');
  });
});

describe('drain, enable, restart, reload and the CLI, two proxy threads', () => {
  let wd: RunningWarpdrive;
  let socket: string;
  let config: string;
  let dir: string;
  const configText = (extraRoute = ''): string => `
[server]
http_port = 0
bind_address = "127.0.0.1"
worker_threads = 2

[admin]
listen = "admin.sock"

[upstreams.app]
[[upstreams.app.instances]]
socket = "a.sock"
process.command = ${JSON.stringify(process.execPath)}
process.args = [${JSON.stringify(path.join(repoRoot(), 'examples', 'demo-app.mjs'))}]
process.env = { APP_NAME = "a", LISTEN = "a.sock" }
[[upstreams.app.instances]]
socket = "b.sock"
process.command = ${JSON.stringify(process.execPath)}
process.args = [${JSON.stringify(path.join(repoRoot(), 'examples', 'demo-app.mjs'))}]
process.env = { APP_NAME = "b", LISTEN = "b.sock" }
${extraRoute}
[[routes]]
upstream = "app"
`;

  before(async () => {
    config = writeConfig(configText());
    dir = path.dirname(config);
    socket = path.join(dir, 'admin.sock');
    wd = await startWarpdrive(config, { env: cleanEnv });
    await outputMatching(wd, /app#0 \(unix:\S+\) process ready/);
    await outputMatching(wd, /app#1 \(unix:\S+\) process ready/);
    await outputMatching(wd, /admin listener on unix:/);
  });
  after(async () => {
    await wd?.stop();
  });

  const appName = (body: string): string => (JSON.parse(body) as { app: string }).app;
  async function served(count: number): Promise<Map<string, number>> {
    const { bodies, statuses } = await whoAnswers(`${wd.url}/who`, count);
    assert.deepEqual([...statuses], [200]);
    const byApp = new Map<string, number>();
    for (const [body, n] of bodies) byApp.set(appName(body), (byApp.get(appName(body)) ?? 0) + n);
    return byApp;
  }

  test('status lists upstreams, instances with their processes, and threads', bounded, async () => {
    const status = (await admin(socket, '/api/status')).json<{
      warpdrive: { proxyThreads: number };
      upstreams: { name: string; instances: { id: string; state: string; process: string; threads: number }[] }[];
      processes: { unit: string; state: string; pid: number }[];
      threads: { thread: number }[];
    }>();
    assert.equal(status.warpdrive.proxyThreads, 2);
    assert.deepEqual(status.upstreams[0]!.instances.map((i) => [i.id, i.state, i.process, i.threads]), [['app#0', 'up', 'app#0', 2], ['app#1', 'up', 'app#1', 2]]);
    assert.deepEqual(status.processes.map((p) => [p.unit, p.state, typeof p.pid]), [['app#0', 'ready', 'number'], ['app#1', 'ready', 'number']]);
    assert.deepEqual(status.threads.map((t) => t.thread), [0, 1]);
  });

  test('drain takes an instance out on every thread, enable brings it back; all drained: 503 with the reason logged', bounded, async () => {
    const drain = await admin(socket, '/api/instances/app%230/drain', { method: 'POST' });
    assert.deepEqual(drain.json(), { instance: 'app#0', drained: true });
    assert.deepEqual([...(await served(30)).keys()], ['b']);
    const status = (await admin(socket, '/api/status')).json<{ upstreams: { instances: { id: string; state: string }[] }[] }>();
    assert.equal(status.upstreams[0]!.instances[0]!.state, 'drained');

    assert.equal((await admin(socket, '/api/instances/app%231/drain', { method: 'POST' })).status, 200);
    const { statuses } = await whoAnswers(`${wd.url}/who`, 4);
    assert.deepEqual([...statuses], [503]);
    await outputMatching(wd, /503 GET 127\.0\.0\.1\/who -> app: no upstream instance is available \[WD_ERR_NO_INSTANCE\]; app#0 drained, app#1 drained/);

    for (const id of ['app%230', 'app%231']) assert.equal((await admin(socket, `/api/instances/${id}/enable`, { method: 'POST' })).status, 200);
    assert.deepEqual([...(await served(30)).keys()].sort(), ['a', 'b']);
    assert.equal((await admin(socket, '/api/instances/app%239/drain', { method: 'POST' })).status, 404);
  });

  test('warpdrive status (CLI) prints a row per instance with pid, uptime, restarts, cpu, memory, state and req/s', bounded, async () => {
    const { code, stdout, stderr } = await runCli(['status', '--config', config], cleanEnv);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^warpdrive \d+\.\d+\.\d+, pid \d+, up \S+.*, 2 proxy threads, config /);
    assert.match(stdout, /^upstream\s+instance\s+address\s+process\s+pid\s+uptime\s+restarts\s+cpu\s+memory\s+state\s+req\/s$/m);
    assert.match(stdout, /^app\s+app#0\s+unix:\S+a\.sock\s+app#0\s+\d+\s+\S+\s+0\s+[\d.]+%\s+[\d.]+ MiB\s+up\s+[\d.]+$/m);
    assert.match(stdout, /^app\s+app#1\s+unix:\S+b\.sock\s+app#1\s+\d+/m);
  });

  test('warpdrive restart app: one process at a time, and not one request fails meanwhile', bounded, async () => {
    const pidsBefore = (await admin(socket, '/api/status')).json<{ processes: { pid: number }[] }>().processes.map((p) => p.pid);
    let stop = false;
    let sent = 0;
    const failures: string[] = [];
    const load = (async () => {
      while (!stop) {
        const res = await request(`${wd.url}/during-restart`).catch((error: Error) => ({ statusCode: 0, body: { text: async () => error.message } }));
        const body = await res.body.text();
        sent++;
        if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body}`);
      }
    })();
    const { code, stdout, stderr } = await runCli(['restart', 'app', '--config', config], cleanEnv);
    stop = true;
    await load;
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), 'restarted app#0, app#1 one at a time, each ready before the next');
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.ok(sent > 10, `traffic flowed during the restart (${sent} requests)`);
    const after = (await admin(socket, '/api/status')).json<{ processes: { pid: number; restarts: number }[] }>().processes;
    assert.deepEqual(after.map((p) => p.restarts), [1, 1]);
    for (const p of after) assert.ok(!pidsBefore.includes(p.pid), 'new processes');
  });

  test('restart of a name that is not supervised: exit 2 naming the processes there are', bounded, async () => {
    const { code, stderr } = await runCli(['restart', 'nope', '--config', config], cleanEnv);
    assert.equal(code, 2);
    assert.match(stderr, /no supervised process named nope; processes: app#0, app#1/);
  });

  test('reload through the API: 200 with the summary; a broken file: 422, the running configuration stays', bounded, async () => {
    writeFileSync(config, configText('[[routes]]\npath_prefix = "/extra"\nupstream = "app"\n'));
    const ok = await admin(socket, '/api/reload', { method: 'POST' });
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.json<{ summary: string }>().summary, /routes \+1 -0/);
    writeFileSync(config, `${configText()}\n[upstreams.app.health]\npaht = "/"\n`);
    const refused = await admin(socket, '/api/reload', { method: 'POST' });
    assert.equal(refused.status, 422);
    assert.match(refused.json<{ error: string }>().error, /upstreams\.app\.health\.paht/);
    const status = (await admin(socket, '/api/status')).json<{ routes: unknown[]; warpdrive: { reloads: { ok: number; failed: number } } }>();
    assert.equal(status.routes.length, 2, 'still the reloaded configuration');
    assert.deepEqual(status.warpdrive.reloads, { ok: 1, failed: 1 });
    writeFileSync(config, configText());
  });
});

describe('admin listener errors and the CLI without one', () => {
  test('a socket another process listens on: exit 1 naming it, no stack trace', bounded, async () => {
    const dir = tempDir('wd-admin-sock-');
    const socket = path.join(dir, 'admin.sock');
    const holder = net.createServer().listen(socket);
    await new Promise((resolve) => holder.once('listening', resolve));
    const config = writeConfig(`[server]\nhttp_port = 0\nbind_address = "127.0.0.1"\n[admin]\nlisten = ${JSON.stringify(socket)}\n[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n`);
    try {
      const { code, stderr } = await runCli(['--config', config], cleanEnv);
      assert.equal(code, 1);
      assert.match(stderr, /cannot listen on admin socket \S+admin\.sock: another process is listening on it/);
      assert.ok(!stderr.includes('    at '), stderr);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  test('a socket file left by a warpdrive that was killed is replaced, and the listener works', bounded, async () => {
    const socket = path.join(tempDir('wd-admin-stale-'), 'admin.sock');
    // A process that listens on the path and is then SIGKILLed leaves the file behind, as a crash would.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(holder.stdout!, 'data');
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    assert.ok(lstatSync(socket).isSocket(), 'the stale socket file is there');
    const config = writeConfig(`[server]\nhttp_port = 0\nbind_address = "127.0.0.1"\n[admin]\nlisten = ${JSON.stringify(socket)}\n[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n`);
    const wd = await startWarpdrive(config, { env: cleanEnv });
    try {
      await outputMatching(wd, /admin listener on unix:/);
      assert.equal((await admin(socket, '/metrics')).status, 200);
    } finally {
      assert.equal(await wd.stop(), 0);
    }
    assert.throws(() => lstatSync(socket), /ENOENT/, 'removed on a clean stop');
  });

  test('status and restart need [admin]: exit 2 with the fix; nothing running: exit 1', bounded, async () => {
    const noAdmin = writeConfig('[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n');
    for (const args of [['status'], ['restart', 'app']]) {
      const { code, stderr } = await runCli([...args, '--config', noAdmin], cleanEnv);
      assert.equal(code, 2, stderr);
      assert.match(stderr, /has no \[admin\] section.*Fix: add \[admin\] with listen = "127\.0\.0\.1:9180"/);
    }
    const nobody = writeConfig(`[admin]\nlisten = ${JSON.stringify(path.join(tempDir('wd-admin-none-'), 'admin.sock'))}\n[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n`);
    const { code, stderr } = await runCli(['status', '--config', nobody], cleanEnv);
    assert.equal(code, 1);
    assert.match(stderr, /no warpdrive answers at unix:\S+admin\.sock \(ENOENT\); is it running with this configuration\?/);
  });
});
