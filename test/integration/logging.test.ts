/**
 * Logs people can use, through the real CLI: the JSON access-log format,
 * X-Request-Id and X-Request-Start as the upstream receives them, the access-log
 * file reopened on SIGUSR1 (logrotate), one log line with its cause for each kind
 * of upstream failure (rate limited under a flood), ejections logged once with two
 * proxy threads, and simple mode's warning when its target does not answer.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { admin, sample } from '../helpers/admin.js';
import { startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { cleanEnv, outputMatching, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 30_000 };
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** An upstream that answers with the request headers it received. */
async function headersEcho(): Promise<TestUpstream> {
  const upstream = await startUpstream((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.headers));
  });
  cleanups.push(() => upstream.close());
  return upstream;
}

async function run(toml: string, env: Record<string, string> = {}): Promise<RunningWarpdrive> {
  const wd = await startWarpdrive(writeConfig(toml), { env: { ...cleanEnv, ...env } });
  cleanups.push(() => wd.stop());
  return wd;
}

const server = '[server]\nhttp_port = 0\nbind_address = "127.0.0.1"\n';
const route = '[[routes]]\nupstream = "app"\n';

async function get(wd: RunningWarpdrive, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await request(`${wd.url}${target}`, { headers, reset: true });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('access log as JSON', () => {
  test('one object per line with every field, the request id the one sent upstream', bounded, async () => {
    const upstream = await headersEcho();
    const wd = await run(`${server}[middleware]\nlog_requests = true\nlog_format = "json"\n[upstreams.app]\n${upstream.toml}\n${route}`);
    const answer = await get(wd, '/orders?page=2', { 'user-agent': 'json-test', referer: 'https://shop.example/' });
    const sentId = (JSON.parse(answer.body) as Record<string, string>)['x-request-id'];
    await outputMatching(wd, /^\{"time":/m);
    const line = wd.output().split('\n').find((l) => l.startsWith('{"time":'))!;
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(
      { ...record, time: 'T', duration_ms: 'D', upstream_ms: 'U' },
      {
        time: 'T', client: '127.0.0.1', method: 'GET', host: '127.0.0.1', path: '/orders', query: 'page=2', status: 200,
        bytes: answer.body.length, duration_ms: 'D', upstream: 'app', instance: 'app#0', upstream_ms: 'U', route: 1,
        request_id: sentId, user_agent: 'json-test', referer: 'https://shop.example/', thread: 0,
      },
    );
    assert.ok(typeof record.duration_ms === 'number' && typeof record.upstream_ms === 'number' && record.upstream_ms <= record.duration_ms);
  });
});

describe('X-Request-Id and X-Request-Start', () => {
  test('by default: an id is generated and sent upstream (a client\'s own is replaced); no X-Request-Start', bounded, async () => {
    const upstream = await headersEcho();
    const wd = await run(`${server}[upstreams.app]\n${upstream.toml}\n${route}`);
    const seen = JSON.parse((await get(wd, '/', { 'x-request-id': 'forged-by-client' })).body) as Record<string, string>;
    assert.match(seen['x-request-id']!, /^[0-9a-f]{12}-[0-9a-z]+$/);
    assert.equal(seen['x-request-start'], undefined);
  });

  test('from a trusted hop the id is kept; request_start_header adds t=<microseconds>', bounded, async () => {
    const upstream = await headersEcho();
    const wd = await run(`${server}[middleware]\ntrusted_proxies = ["127.0.0.1"]\nrequest_start_header = true\n[upstreams.app]\n${upstream.toml}\n${route}`);
    const before = Date.now() * 1000;
    const seen = JSON.parse((await get(wd, '/', { 'x-request-id': 'lb-7f3a' })).body) as Record<string, string>;
    const after = Date.now() * 1000;
    assert.equal(seen['x-request-id'], 'lb-7f3a');
    const micros = Number(/^t=(\d{16})$/.exec(seen['x-request-start']!)![1]);
    assert.ok(micros >= before - 1000 && micros <= after, `${micros} within [${before}, ${after}]`);
  });

  test('request_id = false: nothing added, a client\'s header passes as sent', bounded, async () => {
    const upstream = await headersEcho();
    const wd = await run(`${server}[middleware]\nrequest_id = false\n[upstreams.app]\n${upstream.toml}\n${route}`);
    assert.equal((JSON.parse((await get(wd, '/')).body) as Record<string, string>)['x-request-id'], undefined);
    assert.equal((JSON.parse((await get(wd, '/', { 'x-request-id': 'as-sent' })).body) as Record<string, string>)['x-request-id'], 'as-sent');
  });

  test('without request_start_header a client\'s X-Request-Start is an ordinary header, passed on', bounded, async () => {
    const upstream = await headersEcho();
    const wd = await run(`${server}[upstreams.app]\n${upstream.toml}\n${route}`);
    assert.equal((JSON.parse((await get(wd, '/', { 'x-request-start': 't=1' })).body) as Record<string, string>)['x-request-start'], 't=1');
  });
});

describe('log_file and SIGUSR1', () => {
  for (const threads of [1, 2]) {
    test(`after logrotate renames the file, SIGUSR1 makes every thread write to a new one (${threads} thread${threads > 1 ? 's' : ''})`, bounded, async () => {
      const upstream = await headersEcho();
      // log_file is relative to the config file's directory.
      const config = writeConfig(`${server}worker_threads = ${threads}\n[middleware]\nlog_requests = true\nlog_file = "access.log"\n[upstreams.app]\n${upstream.toml}\n${route}`);
      const opened = path.join(path.dirname(config), 'access.log');
      const wd = await startWarpdrive(config, { env: cleanEnv });
      cleanups.push(() => wd.stop());
      await get(wd, '/before-rotation');
      const waitForLine = async (where: string, text: string): Promise<void> => {
        const deadline = Date.now() + 5_000;
        while (!safeRead(where).includes(text)) {
          if (Date.now() > deadline) throw new Error(`${text} never reached ${where}: ${safeRead(where)}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      await waitForLine(opened, '/before-rotation');
      assert.ok(!wd.output().includes('/before-rotation HTTP'), 'not on stdout');
      renameSync(opened, `${opened}.1`);
      wd.child.kill('SIGUSR1');
      await outputMatching(wd, new RegExp(`SIGUSR1 received: reopened ${opened.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${threads > 1 ? ` \\(${threads} proxy threads\\)` : ''}`));
      for (let i = 0; i < 10; i++) await get(wd, `/after-rotation-${i}`);
      for (let i = 0; i < 10; i++) await waitForLine(opened, `/after-rotation-${i} `);
      assert.ok(!safeRead(`${opened}.1`).includes('/after-rotation'), 'nothing written to the renamed file after SIGUSR1');
      assert.ok(safeRead(`${opened}.1`).includes('/before-rotation'));
      assert.equal(wd.child.exitCode, null, 'SIGUSR1 neither stops warpdrive nor starts the inspector');
      assert.ok(!/Debugger listening/.test(wd.output()));
    });
  }
});

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

describe('upstream failures: one line each, with the cause', () => {
  test('connection refused (502), reset (502), read timeout (504), deadline (504) and no instance (503)', bounded, async () => {
    const upstream = await startUpstream((req, res) => {
      req.resume();
      if (req.url === '/reset') req.socket.destroy();
      else if (req.url!.endsWith('/slow')) setTimeout(() => res.end('late'), 3_000);
      else res.end('ok');
    });
    cleanups.push(() => upstream.close());
    const wd = await run(`${server}
[upstreams.app]
${upstream.toml}
read_timeout_secs = 0.3
retries = 0

[upstreams.refused]
socket = "/nonexistent-warpdrive-test/refused.sock"

[upstreams.gone]
socket = "/nonexistent-warpdrive-test/gone.sock"
[upstreams.gone.health]
path = "/"
interval_secs = 0.2
timeout_secs = 0.1
unhealthy_threshold = 1

[[routes]]
path_prefix = "/refused"
upstream = "refused"

[[routes]]
path_prefix = "/gone"
upstream = "gone"

[[routes]]
path_prefix = "/deadline"
upstream = "app"
request_timeout_secs = 0.2
read_timeout_secs = 5

${route}`);
    await outputMatching(wd, /gone#0 \(unix:\S+\) is down/);
    const cases: Array<[target: string, status: number, line: RegExp]> = [
      ['/refused/x', 502, /502 GET 127\.0\.0\.1\/refused\/x -> refused refused#0 \(unix:\/nonexistent-warpdrive-test\/refused\.sock\): could not connect to the upstream \[WD_ERR_UPSTREAM_CONNECT\]; (connect )?ENOENT/],
      ['/reset', 502, /502 GET 127\.0\.0\.1\/reset -> app app#0 \(127\.0\.0\.1:\d+\)( after 2 attempts)?: the upstream connection broke \[WD_ERR_UPSTREAM_RESET\]; /],
      ['/slow', 504, /504 GET 127\.0\.0\.1\/slow -> app app#0 \(127\.0\.0\.1:\d+\): the upstream did not answer in time \[WD_ERR_UPSTREAM_TIMEOUT\]; /],
      ['/deadline/slow', 504, /504 GET 127\.0\.0\.1\/deadline\/slow -> app app#0 \(127\.0\.0\.1:\d+\): request_timeout_secs passed \[WD_ERR_DEADLINE\]/],
      ['/gone/x', 503, /503 GET 127\.0\.0\.1\/gone\/x -> gone: no upstream instance is available \[WD_ERR_NO_INSTANCE\]; gone#0 down \(health check\)/],
    ];
    for (const [target, status, line] of cases) {
      const answer = await get(wd, target);
      assert.equal(answer.status, status, target);
      await outputMatching(wd, line);
      const id = / rid=(\S+)$/m.exec(wd.output().split('\n').filter((l) => line.test(l)).at(-1)!)?.[1];
      assert.ok(id, `the line names the request id: ${target}`);
      assert.equal(wd.output().split(id!).length - 1, 1, `${target} logged once`);
    }
    assert.ok(!/ 200 GET /.test(wd.output()), 'successes are not in the error log');
  });

  test('a flood of 502s: at most 10 lines a second per thread, then one line counting the rest', bounded, async () => {
    const wd = await run(`${server}[upstreams.app]\nsocket = "/nonexistent-warpdrive-test/flood.sock"\n${route}`);
    const statuses = await Promise.all(Array.from({ length: 60 }, async () => (await get(wd, '/flood')).status));
    assert.deepEqual(new Set(statuses), new Set([502]));
    await outputMatching(wd, /(\d+) more upstream errors? not logged \(at most 10 lines a second per proxy thread\)/);
    const logged = wd.output().split('\n').filter((l) => l.includes('502 GET 127.0.0.1/flood')).length;
    const counted = [...wd.output().matchAll(/(\d+) more upstream errors? not logged/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.ok(logged <= 20, `${logged} lines for 60 errors in about a second`);
    assert.equal(logged + counted, 60, 'every error is either logged or counted');
  });
});

describe('state changes with two proxy threads: logged once', () => {
  test('an instance both threads eject is reported ejected once; readiness of a supervised process once', bounded, async () => {
    const good = await startUpstream((req, res) => {
      req.resume();
      res.end('good');
    });
    cleanups.push(() => good.close());
    const socket = path.join(tempDir('wd-eject-'), 'admin.sock');
    const wd = await run(`${server}worker_threads = 2
[admin]
listen = ${JSON.stringify(socket)}
[upstreams.app]
passive = { max_fails = 1, fail_timeout_secs = 60 }
[[upstreams.app.instances]]
socket = "/nonexistent-warpdrive-test/ejected.sock"
[[upstreams.app.instances]]
${good.toml}
${route}`);
    // Round robin on each thread sends its first or second request to the dead instance: 40
    // requests on their own connections reach it from both threads, and each thread ejects it.
    const answers = await Promise.all(Array.from({ length: 40 }, () => get(wd, '/')));
    assert.deepEqual(new Set(answers.map((a) => a.body)), new Set(['good']), 'the failed attempt is retried on the good instance');
    await outputMatching(wd, /app#0 \(unix:\S+\) ejected: .* \(proxy thread \d; each thread judges its own requests\)/);
    const metrics = (await admin(socket, '/metrics')).text;
    assert.equal(sample(metrics, 'warpdrive_instance_ejected_threads{upstream="app",instance="app#0"}'), 2, 'both threads ejected it');
    assert.equal(sample(metrics, 'warpdrive_instance_ejections_total{upstream="app",instance="app#0"}'), 2);
    assert.equal(wd.output().split('\n').filter((l) => / app#0 \(unix:\S+\) ejected/.test(l)).length, 1, wd.output());
  });
});

describe('simple mode', () => {
  test('a target that does not answer: one warning at start naming it and the variables to set', bounded, async () => {
    const wd = await startWarpdrive(undefined, {
      env: { ...cleanEnv, WARPDRIVE_TARGET_SOCKET: '/nonexistent-warpdrive-test/simple.sock', WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_BIND_ADDRESS: '127.0.0.1' },
    });
    cleanups.push(() => wd.stop());
    await outputMatching(wd, /simple mode: nothing answers at unix:\/nonexistent-warpdrive-test\/simple\.sock \(no such socket file\); requests will get 502 until something listens there\. Set WARPDRIVE_TARGET_HOST/);
  });

  test('a target that answers: no warning', bounded, async () => {
    const upstream = await headersEcho();
    const wd = await startWarpdrive(undefined, {
      env: { ...cleanEnv, WARPDRIVE_TARGET_HOST: '127.0.0.1', WARPDRIVE_TARGET_PORT: String(upstream.port), WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_BIND_ADDRESS: '127.0.0.1' },
      args: ['--log-level', 'debug'],
    });
    cleanups.push(() => wd.stop());
    // At debug level the probe says when it found the target answering: wait for that, then look.
    await outputMatching(wd, /simple mode: 127\.0\.0\.1:\d+ answers/);
    assert.ok(!/simple mode: nothing answers/.test(wd.output()));
  });
});
