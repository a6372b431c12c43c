/**
 * `server.worker_threads` through the real CLI: several proxy threads on one
 * port, real upstreams and supervised children, real clients (undici, one
 * connection per request so that the kernel spreads them over the threads).
 *
 * With 2 threads and N connections, the chance that the kernel's SO_REUSEPORT
 * hash puts every connection on the same thread is 2^(1-N): 40 connections
 * make it 2e-12, so "every thread served" is a property of the code, not luck.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { loggingConfig, runCli, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { childScript } from '../supervisor/helpers.js';
import { startWsUpstream } from '../websocket/ws-upstream.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const bounded = { timeout: 30_000 };
const CONNECTIONS = 40;

const config = loggingConfig;

async function run(configFile: string): Promise<RunningWarpdrive> {
  const wd = await startWarpdrive(configFile);
  cleanups.push(() => wd.stop());
  return wd;
}

/** GET on a connection of its own (`reset` closes it after the response). */
async function getOnOwnConnection(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { reset: true });
  return { status: res.statusCode, body: await res.body.text() };
}

/** The `thread=` values of the access-log lines so far, with their counts. */
function threadsServed(wd: RunningWarpdrive): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of wd.output().matchAll(/ thread=(\d+)\n/g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  return counts;
}

async function accessLines(wd: RunningWarpdrive, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ([...threadsServed(wd).values()].reduce((a, b) => a + b, 0) < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} access-log lines; output:\n${wd.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('server.worker_threads', () => {
  let upstream: TestUpstream;
  after(() => upstream?.close());

  test('every proxy thread takes connections on the one port and proxies them', bounded, async () => {
    upstream = await startUpstream((req, res) => res.end(`upstream saw ${req.url}`));
    const wd = await run(config(2, `host = "127.0.0.1"\nport = ${upstream.port}`));
    assert.match(wd.output(), /2 proxy threads listening on port \d+/);
    const results = await Promise.all(Array.from({ length: CONNECTIONS }, (_, n) => getOnOwnConnection(`${wd.url}/r${n}`)));
    results.forEach((r, n) => assert.deepEqual(r, { status: 200, body: `upstream saw /r${n}` }));
    await accessLines(wd, CONNECTIONS);
    const served = threadsServed(wd);
    assert.deepEqual([...served.keys()].sort(), ['0', '1'], `threads that served: ${JSON.stringify([...served])}`);
  });

  test('a supervised process that becomes ready is seen as ready by every thread', bounded, async () => {
    const socket = path.join(tempDir('wd-threads-'), 'late.sock');
    const processToml =
      `socket = ${JSON.stringify(socket)}\nprocess.command = ${JSON.stringify(process.execPath)}\n` +
      `process.args = [${JSON.stringify(childScript())}]\nprocess.env = { NAME = "late", LISTEN = ${JSON.stringify(socket)}, LISTEN_DELAY_MS = "400" }\n`;
    const wd = await run(config(2, processToml));
    // Sent while the child is still starting: each request waits for readiness on the thread
    // that accepted it. A worker thread that missed the "ready" relayed from the supervisor
    // would hold its requests for 30 s and then answer 503.
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: CONNECTIONS }, () => getOnOwnConnection(`${wd.url}/`)));
    for (const r of results) assert.equal(r.status, 200, r.body);
    assert.ok(Date.now() - started < 10_000, `requests waited ${Date.now() - started} ms`);
    await accessLines(wd, CONNECTIONS);
    assert.deepEqual([...threadsServed(wd).keys()].sort(), ['0', '1']);
  });

  test('SIGTERM lets in-flight requests on every thread finish, then exits 0', bounded, async () => {
    let received = 0;
    let allReceived!: () => void;
    const everyoneWaiting = new Promise<void>((resolve) => (allReceived = resolve));
    const slow = await startUpstream((_req, res) => {
      if (++received === CONNECTIONS) allReceived();
      setTimeout(() => res.end('slow ok'), 300);
    });
    cleanups.push(() => slow.close());
    const wd = await run(config(2, `host = "127.0.0.1"\nport = ${slow.port}`));
    const pending = Array.from({ length: CONNECTIONS }, () => getOnOwnConnection(`${wd.url}/`));
    await everyoneWaiting;
    const code = wd.stop('SIGTERM');
    const results = await Promise.all(pending);
    for (const r of results) assert.deepEqual(r, { status: 200, body: 'slow ok' });
    assert.equal(await code, 0);
    assert.deepEqual([...threadsServed(wd).keys()].sort(), ['0', '1'], 'both threads had requests in flight');
    assert.match(wd.output(), /stopped/);
  });

  test('active health checks run once, on the main thread, and every thread follows them', bounded, async () => {
    const probes = { a: 0, b: 0 };
    const serve = (name: 'a' | 'b', healthy: boolean) =>
      startUpstream((req, res) => {
        if (req.url === '/health') {
          probes[name]++;
          res.statusCode = healthy ? 200 : 503;
          res.end();
          return;
        }
        res.end(name);
      });
    const [a, b] = await Promise.all([serve('a', true), serve('b', false)]);
    cleanups.push(() => a.close(), () => b.close());
    const file = config(
      2,
      `[[upstreams.app.instances]]\nhost = "127.0.0.1"\nport = ${a.port}\n[[upstreams.app.instances]]\nhost = "127.0.0.1"\nport = ${b.port}\n` +
        // A timeout well above any loaded machine's loopback latency, and two failures to
        // go down: a slow answer from a must never take it out (a once did, with 80 ms).
        `[upstreams.app.health]\npath = "/health"\ninterval_secs = 0.25\ntimeout_secs = 0.2\nunhealthy_threshold = 2\nhealthy_threshold = 1\n`,
    );
    const wd = await run(file);
    const deadline = Date.now() + 10_000;
    while (!/app#1 \(127\.0\.0\.1:\d+\) is down/.test(wd.output())) {
      if (Date.now() > deadline) throw new Error(`b never went down:\n${wd.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Every thread, not only the one that probes, now keeps traffic away from b.
    const bodies = await Promise.all(Array.from({ length: CONNECTIONS }, () => getOnOwnConnection(`${wd.url}/`).then((r) => r.body)));
    assert.deepEqual(new Set(bodies), new Set(['a']));
    await accessLines(wd, CONNECTIONS);
    assert.deepEqual([...threadsServed(wd).keys()].sort(), ['0', '1']);
    // One checker probes a every 250 ms: about 12 probes in 3 s, where a checker per
    // thread would send about 24. Load only delays timers, so it can only lower the count.
    const before = probes.a;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const sent = probes.a - before;
    assert.ok(sent >= 4 && sent <= 18, `${sent} health probes in 3 s`);
  });

  test('WebSockets are proxied by every thread', bounded, async () => {
    const ws = await startWsUpstream('echo');
    cleanups.push(() => ws.close());
    const wd = await run(config(2, ws.toml));
    // 40 connections: with 2 threads, both take some (see the top of this file); each must echo.
    const echoes = await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, n) => {
        const client = new WebSocket(`ws://127.0.0.1:${wd.port}/socket`);
        await once(client, 'open');
        client.send(`hello ${n}`);
        const [data] = (await once(client, 'message')) as [Buffer];
        client.close(1000);
        await once(client, 'close');
        return data.toString();
      }),
    );
    assert.deepEqual(echoes, Array.from({ length: CONNECTIONS }, (_, n) => `hello ${n}`));
    assert.equal(ws.handshakes.length, CONNECTIONS);
  });

  test('a port already in use is refused with exit 1, as with one thread', bounded, async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const file = writeConfig(
        `[server]\nhttp_port = ${port}\nbind_address = "127.0.0.1"\nworker_threads = 3\n[upstreams.app]\nhost = "127.0.0.1"\nport = 1\n[[routes]]\npath_prefix = "/"\nupstream = "app"\n`,
      );
      const { code, stderr } = await runCli(['--config', file]);
      assert.equal(code, 1, stderr);
      assert.ok(stderr.includes(`127.0.0.1:${port}`) && /in use/.test(stderr), stderr);
    } finally {
      blocker.close();
    }
  });
});
