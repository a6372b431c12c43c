/**
 * Active and passive health end to end through the real CLI: instances taken
 * out and brought back while a client keeps sending requests, none of which
 * may fail. Waits are for warpdrive's own log lines (the state changes).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { request } from 'undici';
import { startUpstream, tempDir } from '../../helpers/upstream.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../../helpers/warpdrive.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function warpdrive(toml: string): Promise<RunningWarpdrive> {
  const wd = await startWarpdrive(writeConfig(`[server]\nbind_address = "127.0.0.1"\nhttp_port = 0\n\n${toml}`));
  cleanups.push(() => wd.stop());
  return wd;
}

/** Resolves once warpdrive's output matches `pattern` (already, or in a later chunk). */
function logged(wd: RunningWarpdrive, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    if (pattern.test(wd.output())) return resolve();
    const check = () => {
      if (!pattern.test(wd.output())) return;
      wd.child.stderr!.off('data', check);
      resolve();
    };
    wd.child.stderr!.on('data', check);
  });
}

/** Sends GETs one after another until `until` resolves (bounded by `max`), returning who answered. */
async function trafficUntil(wd: RunningWarpdrive, until: Promise<void>, max: number): Promise<{ bodies: string[]; failures: string[] }> {
  let done = false;
  void until.then(() => (done = true));
  const bodies: string[] = [];
  const failures: string[] = [];
  for (let n = 0; n < max && !done; n++) {
    const res = await request(`${wd.url}/${n}`);
    const body = await res.body.text();
    if (res.statusCode === 200) bodies.push(body);
    else failures.push(`${res.statusCode} ${body.trim()}`);
  }
  return { bodies, failures };
}

/** A server on a Unix socket path that can be stopped and started again at the same address. */
class Restartable {
  readonly socketPath = path.join(tempDir('wd-e2e-health-'), 'instance.sock');
  #server: http.Server | undefined;
  constructor(readonly name: string) {}
  async start(): Promise<void> {
    this.#server = http.createServer((_req, res) => res.end(this.name));
    this.#server.listen(this.socketPath);
    await once(this.#server, 'listening');
  }
  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
}

describe('health through warpdrive', { timeout: 120_000 }, () => {
  it('passive: a stopped instance is ejected and, after the cool-down, probed and restored, with no failed request', async () => {
    const a = new Restartable('a');
    const b = new Restartable('b');
    await a.start();
    await b.start();
    cleanups.push(() => a.stop(), () => b.stop());
    const wd = await warpdrive(
      `[upstreams.pool]\n[[upstreams.pool.instances]]\nsocket = ${JSON.stringify(a.socketPath)}\n[[upstreams.pool.instances]]\nsocket = ${JSON.stringify(b.socketPath)}\n` +
        `[upstreams.pool.passive]\nmax_fails = 2\nfail_timeout_secs = 0.3\n\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`,
    );
    const warm = await trafficUntil(wd, new Promise(() => {}), 10);
    assert.deepEqual(new Set(warm.bodies), new Set(['a', 'b']));

    await a.stop();
    const ejected = await trafficUntil(wd, logged(wd, /pool#0 \(unix:.*\) ejected: 2 consecutive failures/), 2_000);
    assert.deepEqual(ejected.failures, [], 'failed attempts at a were retried on b');

    await a.start();
    const restored = await trafficUntil(wd, logged(wd, /pool#0 \(unix:.*\) restored: probe request succeeded/), 20_000);
    assert.deepEqual(restored.failures, []);
    const after = await trafficUntil(wd, new Promise(() => {}), 10);
    assert.ok(after.bodies.includes('a'), 'a serves again after the probe');
  });

  it('active: an instance failing its health check is taken out, and brought back when it passes again', async () => {
    let healthy = true;
    const hits = { a: 0, b: 0 };
    const serve = (name: 'a' | 'b') => (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url === '/health') return void res.writeHead(name === 'a' && !healthy ? 503 : 200).end();
      hits[name]++;
      res.end(name);
    };
    const sa = await startUpstream(serve('a'));
    const sb = await startUpstream(serve('b'));
    cleanups.push(() => sa.close(), () => sb.close());
    // The timeout is far above loopback latency even on a loaded machine: with 40 ms, a
    // slow answer from b once took it out too, and requests failed with both down.
    const wd = await warpdrive(
      `[upstreams.pool]\n[[upstreams.pool.instances]]\nhost = "127.0.0.1"\nport = ${sa.port}\n[[upstreams.pool.instances]]\nhost = "127.0.0.1"\nport = ${sb.port}\n` +
        `[upstreams.pool.health]\npath = "/health"\ninterval_secs = 0.3\ntimeout_secs = 0.25\nunhealthy_threshold = 2\nhealthy_threshold = 2\n\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`,
    );
    healthy = false;
    await logged(wd, /\[health\] pool#0 .* is down: 2 consecutive failed checks \(last: status 503/);
    hits.a = 0;
    const whileDown = await trafficUntil(wd, new Promise(() => {}), 30);
    assert.deepEqual(whileDown.failures, []);
    assert.equal(hits.a, 0, 'no request reached the instance while it was down');
    assert.equal(whileDown.bodies.length, 30);

    healthy = true;
    await logged(wd, /\[health\] pool#0 .* is up: 2 consecutive passing checks/);
    const whileUp = await trafficUntil(wd, new Promise(() => {}), 10);
    assert.ok(whileUp.bodies.includes('a'));
  });
});
