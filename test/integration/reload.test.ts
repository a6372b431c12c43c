/**
 * Reload (SIGHUP and `warpdrive reload`) through the real CLI, with real
 * upstreams, real WebSockets and real supervised children: a new configuration
 * generation is swapped in while traffic runs, requests finish on the generation
 * they started on, WebSockets stay open, a broken file changes nothing, a process
 * whose command changed is restarted while its siblings serve.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { WebSocket } from 'ws';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { runCli, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from '../websocket/ws-upstream.js';

const bounded = { timeout: 90_000 };

/** Echoes the generation header the route added, and the upstream's name; `/slow` answers after 300 ms. */
function generationEcho(name: string): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void {
  return (req, res) => {
    const answer = (): void => {
      const body = JSON.stringify({ name, generation: Number(req.headers['x-generation'] ?? -1) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url?.startsWith('/slow')) setTimeout(answer, 300);
    else answer();
  };
}

/** Generation `n`: every route adds `x-generation: n`; odd generations add upstream "b" and a /b route. */
function generationConfig(n: number, a: TestUpstream, b: TestUpstream, extra = ''): string {
  const withB = n % 2 === 1;
  return `
[server]
http_port = 0
bind_address = "127.0.0.1"
${extra}

[upstreams.a]
${a.toml}
${withB ? `\n[upstreams.b]\n${b.toml}\n` : ''}
${withB ? `[[routes]]\npath_prefix = "/b"\nupstream = "b"\nadd_headers = [{ name = "x-generation", value = "${n}" }]\n` : ''}
[[routes]]
path_prefix = "/"
upstream = "a"
add_headers = [{ name = "x-generation", value = "${n}" }]
`;
}

describe('reload under keep-alive traffic', bounded, () => {
  let a: TestUpstream;
  let b: TestUpstream;
  let wd: RunningWarpdrive;
  let file: string;

  before(async () => {
    a = await startUpstream(generationEcho('a'));
    b = await startUpstream(generationEcho('b'));
    file = writeConfig(generationConfig(0, a, b));
    wd = await startWarpdrive(file);
  });
  after(async () => {
    await wd?.stop();
    await a?.close();
    await b?.close();
  });

  test('2,000 GETs over keep-alive while reloading ten times: none fails, each is answered by the generation it started on', bounded, async () => {
    const agent = new Agent({ connections: 8, pipelining: 1 });
    /** When each generation started serving (the reload CLI returned) and when its reload began. */
    const servingFrom: number[] = [0];
    const reloadBegan: number[] = [0];
    const results: Array<{ start: number; end: number; generation: number; status: number; name: string }> = [];
    const failures: string[] = [];
    let reloadsDone = false;

    const reloads = (async () => {
      for (let n = 1; n <= 10; n++) {
        writeFileSync(file, generationConfig(n, a, b));
        reloadBegan[n] = performance.now();
        const { code, stdout, stderr } = await runCli(['reload', '--config', file]);
        assert.equal(code, 0, stderr);
        assert.match(stdout, /^reloaded pid \d+: routes \+\d+ -\d+/);
        servingFrom[n] = performance.now();
      }
      reloadsDone = true;
    })();

    let sent = 0;
    const worker = async (id: number): Promise<void> => {
      while (sent < 2000 || !reloadsDone) {
        const i = sent++;
        // Every 25th request is slow, so that some are in flight across a swap.
        const target = i % 25 === id ? '/slow' : i % 2 === 0 ? '/b/x' : '/x';
        const start = performance.now();
        try {
          const res = await request(`${wd.url}${target}`, { dispatcher: agent });
          const body = (await res.body.json()) as { name: string; generation: number };
          results.push({ start, end: performance.now(), generation: body.generation, status: res.statusCode, name: body.name });
        } catch (error) {
          failures.push(`${target}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all([reloads, ...Array.from({ length: 8 }, (_, id) => worker(id))]);
    await agent.close();

    assert.deepEqual(failures, []);
    assert.ok(results.length >= 2000, `${results.length} requests`);
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    for (const r of results) {
      // Started after generation g served: answered by g or later.
      const servingWhenStarted = servingFrom.filter((t) => t <= r.start).length - 1;
      assert.ok(r.generation >= servingWhenStarted, `request started under generation ${servingWhenStarted} answered by ${r.generation}`);
      // Finished before reload g began: answered by an earlier generation.
      const begunBeforeEnd = reloadBegan.filter((t) => t <= r.end).length - 1;
      assert.ok(r.generation <= begunBeforeEnd, `request ended before reload ${begunBeforeEnd + 1} began but saw generation ${r.generation}`);
      // /b exists only in odd generations: whoever answered agrees with the generation.
      if (r.name === 'b') assert.equal(r.generation % 2, 1);
    }
    const slowAcrossSwap = results.filter((r) => r.end - r.start >= 250 && servingFrom.some((t) => t > r.start && t < r.end));
    assert.ok(slowAcrossSwap.length > 0, 'some slow requests were in flight while a generation was swapped in');
    for (const r of slowAcrossSwap) {
      const servingWhenStarted = servingFrom.filter((t) => t <= r.start).length - 1;
      const reloadStartedBefore = reloadBegan.filter((t) => t <= r.start).length - 1;
      assert.ok(r.generation >= servingWhenStarted && r.generation <= reloadStartedBefore + 1, `slow request kept its generation (saw ${r.generation})`);
    }
    assert.match(wd.output(), /SIGHUP received: reloaded \(routes \+\d+ -\d+; upstreams (added|removed): b/);
  });

  test('an invalid file keeps the running configuration, and both the CLI and the log name every problem', bounded, async () => {
    const before = (await (await request(`${wd.url}/x`)).body.json()) as { generation: number };
    writeFileSync(file, `${generationConfig(before.generation + 1, a, b)}\n[[routes]]\npath_prefx = "/typo"\nupstream = "nowhere"\n`);
    const viaCli = await runCli(['reload', '--config', file]);
    assert.equal(viaCli.code, 2);
    assert.match(viaCli.stderr, /routes\[\d\]\.path_prefx: unknown key "path_prefx" in a route \(did you mean "path_prefix"\?\)/);
    assert.match(viaCli.stderr, /routes\[\d\]\.upstream: unknown upstream "nowhere"/);
    // The same file signalled directly: the running process refuses it and logs why.
    const logged = wd.output().length;
    wd.child.kill('SIGHUP');
    await waitFor(() => wd.output().slice(logged).includes('reload refused'));
    assert.match(wd.output().slice(logged), /SIGHUP received: reload refused, still serving the previous configuration: invalid configuration in .* \(2 problems\)/);
    const after = (await (await request(`${wd.url}/x`)).body.json()) as { generation: number };
    assert.equal(after.generation, before.generation, 'still the old routes');
  });

  test('a setting that needs a restart is named and left alone; everything else applies', bounded, async () => {
    writeFileSync(file, generationConfig(42, a, b, 'worker_threads = 2\nwebsocket_idle_timeout_secs = 60'));
    const { code, stdout } = await runCli(['reload', '--config', file]);
    assert.equal(code, 0);
    assert.match(stdout, /needs a restart to change: server\.worker_threads, server\.websocket_idle_timeout_secs/);
    const res = (await (await request(`${wd.url}/x`)).body.json()) as { generation: number };
    assert.equal(res.generation, 42);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('reload with WebSockets open', bounded, () => {
  let echo: WsUpstream;
  let wd: RunningWarpdrive;
  let file: string;
  const config = (prefix: string): string => `
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.ws]
${echo.toml}

[[routes]]
path_prefix = "${prefix}"
upstream = "ws"
`;

  before(async () => {
    echo = await startWsUpstream('echo');
    file = writeConfig(config('/cable'));
    wd = await startWarpdrive(file);
  });
  after(async () => {
    await wd?.stop();
    await echo?.close();
  });

  test('20 WebSockets stay open and keep echoing across five reloads, even when their route is gone', bounded, async () => {
    const sockets = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${wd.port}/cable`);
        await once(ws, 'open');
        return ws;
      }),
    );
    const echoes = async (round: number): Promise<void> => {
      await Promise.all(
        sockets.map(async (ws, i) => {
          const reply = once(ws, 'message');
          ws.send(`round ${round} socket ${i}`);
          const [data] = (await reply) as [Buffer];
          assert.equal(data.toString(), `round ${round} socket ${i}`);
        }),
      );
    };
    await echoes(0);
    for (let round = 1; round <= 5; round++) {
      // Odd rounds move the route away from /cable entirely: new upgrades there get 404.
      writeFileSync(file, config(round % 2 === 1 ? '/other' : '/cable'));
      const { code, stderr } = await runCli(['reload', '--config', file]);
      assert.equal(code, 0, stderr);
      await echoes(round);
    }
    for (const ws of sockets) assert.equal(ws.readyState, WebSocket.OPEN);
    // The last reload (round 5) moved the route: a new upgrade on /cable is refused, the old ones live on.
    const late = new WebSocket(`ws://127.0.0.1:${wd.port}/cable`);
    const [, response] = (await once(late, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    assert.equal(response.statusCode, 404);
    for (const ws of sockets) ws.close();
  });
});

/** examples/demo-app.mjs of the repository, found upwards from this compiled file (dist/ or .build/NAME/). */
const demoApp = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'examples', 'demo-app.mjs'))) dir = path.dirname(dir);
  return path.join(dir, 'examples', 'demo-app.mjs');
})();

describe('reload with supervised processes', bounded, () => {
  let wd: RunningWarpdrive;
  let file: string;
  let ports: number[];
  const config = (label1: string, withExtra: boolean): string => `
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.pool]
${ports.slice(0, 2).map((port, i) => `
[[upstreams.pool.instances]]
host = "127.0.0.1"
port = ${port}
process.command = ${JSON.stringify(process.execPath)}
process.args = [${JSON.stringify(demoApp)}]
process.env = { APP_NAME = "${i === 1 ? label1 : `pool-${i}`}", LISTEN = "${port}" }
`).join('')}
${withExtra ? `
[upstreams.extra]
host = "127.0.0.1"
port = ${ports[2]}
process.command = ${JSON.stringify(process.execPath)}
process.args = [${JSON.stringify(demoApp)}]
process.env = { APP_NAME = "extra", LISTEN = "${ports[2]}" }

[[routes]]
path_prefix = "/extra"
upstream = "extra"
` : ''}
[[routes]]
path_prefix = "/"
upstream = "pool"
`;

  before(async () => {
    ports = await freePorts(3);
    file = writeConfig(config('pool-1', false));
    wd = await startWarpdrive(file, { startTimeoutMs: 30_000 });
  });
  after(async () => {
    await wd?.stop();
  });

  test('a process whose env changed is restarted while its sibling serves: zero failed requests', bounded, async () => {
    const agent = new Agent({ connections: 4 });
    const seen = async (): Promise<{ app: string; pid: number }> => {
      const res = await request(`${wd.url}/who`, { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      return (await res.body.json()) as { app: string; pid: number };
    };
    // Both instances ready.
    await waitForAsync(async () => new Set(await Promise.all([seen(), seen(), seen(), seen()]).then((r) => r.map((x) => x.app))).size === 2, 20_000, () => wd.output());
    const pidsBefore = new Map((await Promise.all([seen(), seen(), seen(), seen()])).map((r) => [r.app, r.pid]));

    let stop = false;
    const failures: string[] = [];
    const apps = new Set<string>();
    const traffic = (async () => {
      while (!stop) {
        try {
          apps.add((await seen()).app);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    })();
    writeFileSync(file, config('pool-1-v2', false));
    const { code, stdout, stderr } = await runCli(['reload', '--config', file]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /processes restarted: pool#1/);
    assert.doesNotMatch(stdout, /pool#0/);
    await waitForAsync(async () => (await Promise.all([seen(), seen(), seen(), seen()])).some((r) => r.app === 'pool-1-v2'), 20_000, () => wd.output());
    stop = true;
    await traffic;
    assert.deepEqual(failures, []);
    assert.ok(apps.has('pool-0'), 'the sibling kept serving');
    const pidsAfter = new Map((await Promise.all([seen(), seen(), seen(), seen()])).map((r) => [r.app, r.pid]));
    await agent.close();
    assert.equal(pidsAfter.get('pool-0'), pidsBefore.get('pool-0'), 'the unchanged instance was not restarted');
    assert.notEqual(pidsAfter.get('pool-1-v2'), pidsBefore.get('pool-1'));
  });

  test('an added upstream\'s process starts, and a removed one stops', bounded, async () => {
    writeFileSync(file, config('pool-1-v2', true));
    let result = await runCli(['reload', '--config', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /upstreams added: extra; processes started: extra/);
    const res = await request(`${wd.url}/extra/hi`);
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { app: string }).app, 'extra');

    writeFileSync(file, config('pool-1-v2', false));
    result = await runCli(['reload', '--config', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /upstreams removed: extra; processes stopped: extra/);
    await waitFor(() => /extra: pid \d+ exited/.test(wd.output()));
  });
});

async function waitForAsync(condition: () => Promise<boolean>, timeoutMs = 20_000, context: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`condition not met in time${context() === '' ? '' : `; warpdrive's output:\n${context()}`}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freePorts(count: number): Promise<number[]> {
  const net = await import('node:net');
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = net.createServer().listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

describe('reload with worker_threads = 2', bounded, () => {
  let a: TestUpstream;
  let b: TestUpstream;
  let wd: RunningWarpdrive;

  before(async () => {
    a = await startUpstream(generationEcho('a'));
    b = await startUpstream(generationEcho('b'));
  });
  after(async () => {
    await wd?.stop();
    await a?.close();
    await b?.close();
  });

  test('both proxy threads switch to the new generation', bounded, async () => {
    const threads = 'worker_threads = 2\n[middleware]\nlog_requests = true';
    const file = writeConfig(generationConfig(0, a, b, threads));
    wd = await startWarpdrive(file);
    writeFileSync(file, generationConfig(1, a, b, threads));
    const { code, stderr } = await runCli(['reload', '--config', file]);
    assert.equal(code, 0, stderr);
    // 40 fresh connections spread over both threads (SO_REUSEPORT); every one sees generation 1.
    const generations = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const agent = new Agent({ connections: 1 });
        const res = await request(`${wd.url}/b/x`, { dispatcher: agent, reset: true });
        const body = (await res.body.json()) as { name: string; generation: number };
        await agent.close();
        return body;
      }),
    );
    assert.deepEqual([...new Set(generations.map((g) => `${g.name}@${g.generation}`))], ['b@1']);
    await waitFor(() => /upstream=b instance=b#0 thread=0/.test(wd.output()) && /upstream=b instance=b#0 thread=1/.test(wd.output()));
  });
});

describe('SIGHUP in simple mode', bounded, () => {
  test('is logged and changes nothing: the process keeps serving', bounded, async () => {
    const upstream = await startUpstream(generationEcho('simple'));
    const wd = await startWarpdrive(undefined, { env: { WARPDRIVE_TARGET_PORT: String(upstream.port), WARPDRIVE_HTTP_PORT: '0', WARPDRIVE_BIND_ADDRESS: '127.0.0.1' } });
    try {
      wd.child.kill('SIGHUP');
      await waitFor(() => wd.output().includes('nothing to reload'));
      assert.equal((await request(`${wd.url}/`)).statusCode, 200);
      wd.child.kill('SIGUSR2');
      await waitFor(() => wd.output().includes('SIGUSR2 received and ignored'));
      assert.equal((await request(`${wd.url}/`)).statusCode, 200);
    } finally {
      await wd.stop();
      await upstream.close();
    }
  });
});
