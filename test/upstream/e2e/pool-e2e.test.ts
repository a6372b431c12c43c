/**
 * Upstream pools end to end through the real warpdrive CLI: real upstream
 * servers (in-test node:http, and child processes that are SIGKILLed mid-load),
 * real clients (undici). What a user of `[upstreams.*]` relies on.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Pool, request } from 'undici';
import type http from 'node:http';
import { startUpstream, tempDir, type TestUpstream } from '../../helpers/upstream.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../../helpers/warpdrive.js';
import { startChildUpstream, type ChildUpstream } from './child-upstream.js';
import { childScript } from '../../supervisor/helpers.js';
import { startBlackhole } from '../blackhole.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function warpdrive(toml: string): Promise<RunningWarpdrive> {
  const wd = await startWarpdrive(writeConfig(`[server]\nbind_address = "127.0.0.1"\nhttp_port = 0\n\n${toml}`));
  cleanups.push(() => wd.stop());
  return wd;
}

async function named(name: string, handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestUpstream> {
  const s = await startUpstream(handler ?? ((_req, res) => res.end(name)));
  cleanups.push(() => s.close());
  return s;
}

/** Resolves once warpdrive's output has matched `pattern` `count` times (its log is the event we wait for). */
function outputMatches(wd: RunningWarpdrive, pattern: RegExp, count: number): Promise<void> {
  const enough = () => (wd.output().match(new RegExp(pattern.source, 'g')) ?? []).length >= count;
  return new Promise((resolve) => {
    if (enough()) return resolve();
    const check = () => {
      // output() is fed by the helper's own listener, which was attached first and so has already run.
      if (!enough()) return;
      wd.child.stderr!.off('data', check);
      wd.child.stdout!.off('data', check);
      resolve();
    };
    wd.child.stderr!.on('data', check);
    wd.child.stdout!.on('data', check);
  });
}

function instancesToml(upstream: string, servers: Array<{ port: number }>, weights?: number[]): string {
  return servers.map((s, i) => `[[upstreams.${upstream}.instances]]\nhost = "127.0.0.1"\nport = ${s.port}\n${weights ? `weight = ${weights[i]}\n` : ''}`).join('\n');
}

describe('upstream pools through warpdrive', { timeout: 120_000 }, () => {
  it('an instance SIGKILLed mid-load loses no idempotent request (counted)', async () => {
    const children: ChildUpstream[] = [];
    for (const name of ['a', 'b', 'c']) children.push(await startChildUpstream(name, 2));
    cleanups.push(() => Promise.all(children.map((c) => c.kill())));
    const wd = await warpdrive(`[upstreams.pool]\nstrategy = "round_robin"\nretries = 2\n${instancesToml('pool', children)}\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`);

    const client = new Pool(wd.url, { connections: 8 });
    cleanups.push(() => client.close());
    const total = 600;
    const killAfter = 150;
    let sent = 0;
    let completed = 0;
    const failures: string[] = [];
    const before = new Map<string, number>();
    const afterKill = new Map<string, number>();
    let killed: Promise<void> | undefined;
    const worker = async (): Promise<void> => {
      while (sent < total) {
        sent++;
        try {
          const res = await client.request({ method: 'GET', path: `/item/${sent}` });
          const body = await res.body.text();
          if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body.trim()}`);
          const tally = killed ? afterKill : before;
          tally.set(body, (tally.get(body) ?? 0) + 1);
        } catch (error) {
          failures.push(`client error ${(error as Error).message}`);
        }
        completed++;
        if (completed === killAfter) killed = children[1]!.kill();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await killed;
    assert.equal(completed, total);
    assert.deepEqual(failures, [], `${failures.length} of ${total} requests failed`);
    assert.ok((before.get('b') ?? 0) > 0, 'b served before it was killed');
    assert.ok((afterKill.get('a') ?? 0) > 0 && (afterKill.get('c') ?? 0) > 0, 'the survivors took over');
  });

  it('an instance that accepts and never answers gives 504 at the read timeout, and the others keep being served', async () => {
    const hung: http.ServerResponse[] = [];
    const silent = await named('silent', (_req, res) => void hung.push(res));
    cleanups.push(async () => hung.forEach((r) => r.destroy()));
    const fine = await named('fine');
    const wd = await warpdrive(
      [
        `[upstreams.silent]\nhost = "127.0.0.1"\nport = ${silent.port}\nread_timeout_secs = 0.5\n`,
        `[upstreams.fine]\nhost = "127.0.0.1"\nport = ${fine.port}\n`,
        `[[routes]]\npath_prefix = "/silent"\nupstream = "silent"\n`,
        `[[routes]]\npath_prefix = "/"\nupstream = "fine"\n`,
      ].join('\n'),
    );
    const started = Date.now();
    const slow = request(`${wd.url}/silent/report`).then(async (res) => ({ status: res.statusCode, body: await res.body.text() }));
    // While that request hangs, the other upstream answers.
    for (let n = 0; n < 20; n++) {
      const res = await request(`${wd.url}/ok/${n}`);
      assert.equal(await res.body.text(), 'fine');
    }
    const timedOut = await slow;
    assert.equal(timedOut.status, 504);
    // Not before the deadline (a lower bound, which no slowness of the machine can break).
    assert.ok(Date.now() - started >= 450, 'the 504 came before the read timeout');
  });

  it('a route deadline (request_timeout_secs) bounds the whole request', async () => {
    const hung: http.ServerResponse[] = [];
    const silent = await named('silent', (_req, res) => void hung.push(res));
    cleanups.push(async () => hung.forEach((r) => r.destroy()));
    const wd = await warpdrive(`[upstreams.silent]\nhost = "127.0.0.1"\nport = ${silent.port}\n\n[[routes]]\npath_prefix = "/"\nupstream = "silent"\nrequest_timeout_secs = 0.5\n`);
    const started = Date.now();
    const res = await request(`${wd.url}/x`);
    await res.body.text();
    assert.equal(res.statusCode, 504);
    assert.ok(Date.now() - started >= 450);
  });

  it('a route connect_timeout_secs overrides the upstream one: 504 when the handshake never completes', async () => {
    const hole = await startBlackhole();
    cleanups.push(() => hole.close());
    const wd = await warpdrive(
      `[upstreams.hole]\nhost = "127.0.0.1"\nport = ${hole.port}\nconnect_timeout_secs = 60\n\n[[routes]]\npath_prefix = "/"\nupstream = "hole"\nconnect_timeout_secs = 0.3\n`,
    );
    // The client gives up long after the route's 0.3 s but long before the upstream's 60 s:
    // only the route's own timeout can produce the 504 in between.
    const res = await request(`${wd.url}/`, { headersTimeout: 5_000 });
    await res.body.text();
    assert.equal(res.statusCode, 504);
  });

  it('with every instance down: 503 with Retry-After', async () => {
    const sick = await named('sick', (_req, res) => res.writeHead(500).end('sick'));
    const sicker = await named('sicker', (_req, res) => res.writeHead(500).end('sicker'));
    const wd = await warpdrive(
      `[upstreams.pool]\n${instancesToml('pool', [sick, sicker])}\n[upstreams.pool.health]\npath = "/health"\ninterval_secs = 0.05\ntimeout_secs = 0.04\nunhealthy_threshold = 1\n\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`,
    );
    // Health checks take both down after their first check; their log lines are the event to wait for.
    await outputMatches(wd, /\[health\] pool#\d .* is down/, 2);
    const res = await request(`${wd.url}/`);
    const body = await res.body.text();
    assert.equal(res.statusCode, 503, body);
    assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
  });

  it('a refused connection is retried on another instance only while retries remain', async () => {
    const gone = await named('gone');
    await gone.close();
    const good = await named('good');
    // Passive ejection off, so the refusing instance keeps its turn in the rotation.
    const pool = (retries: number) =>
      `[upstreams.pool]\nretries = ${retries}\n${instancesToml('pool', [gone, good])}\n[upstreams.pool.passive]\nmax_fails = 0\n\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`;
    const statuses = async (wd: RunningWarpdrive) => {
      const seen: number[] = [];
      for (let n = 0; n < 20; n++) {
        const res = await request(`${wd.url}/${n}`);
        await res.body.text();
        seen.push(res.statusCode);
      }
      return seen;
    };
    const none = await statuses(await warpdrive(pool(0)));
    assert.equal(none.filter((s) => s === 502).length, 10, `retries = 0: ${none.join(',')}`);
    const one = await statuses(await warpdrive(pool(1)));
    assert.deepEqual(new Set(one), new Set([200]), `retries = 1: ${one.join(',')}`);
  });

  it('a connection reset before the response is retried for GET but never for POST', async () => {
    const seen = { GET: 0, POST: 0 };
    const resetter = await named('resetter', (req) => {
      seen[req.method as 'GET' | 'POST']++;
      req.socket.destroy();
    });
    const good = await named('good', (req, res) => {
      req.resume();
      req.on('end', () => res.end('good'));
    });
    const wd = await warpdrive(
      `[upstreams.pool]\nretries = 2\n${instancesToml('pool', [resetter, good])}\n[upstreams.pool.passive]\nmax_fails = 0\n\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`,
    );
    const results: string[] = [];
    // GETs first, then POSTs: interleaved, the retry's extra round-robin step would always send POSTs to `good`.
    for (const method of ['GET', 'POST'] as const) {
      for (let n = 0; n < 6; n++) {
        const res = await request(`${wd.url}/${n}`, { method, body: method === 'POST' ? 'order=1' : undefined });
        results.push(`${method} ${res.statusCode}`);
        await res.body.text();
      }
    }
    assert.ok(results.filter((r) => r.startsWith('GET')).every((r) => r === 'GET 200'), results.join(', '));
    assert.ok(seen.GET > 0, 'GETs did reach the resetting instance (and were retried)');
    const postFailures = results.filter((r) => r === 'POST 502').length;
    // Round robin gives the resetter every other POST; each is answered 502, never resent.
    assert.ok(postFailures > 0, results.join(', '));
    assert.equal(seen.POST, postFailures, 'each POST reached the resetting instance once at most');
  });

  it('round_robin weights hold through the proxy', async () => {
    const hits = [0, 0, 0];
    const servers = await Promise.all([0, 1, 2].map((i) => named(String(i), (_req, res) => (hits[i]!++, res.end(String(i))))));
    const wd = await warpdrive(`[upstreams.pool]\nstrategy = "round_robin"\n${instancesToml('pool', servers, [1, 2, 3])}\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`);
    for (let n = 0; n < 120; n++) await (await request(`${wd.url}/${n}`)).body.text();
    assert.deepEqual(hits, [20, 40, 60]);
  });

  it('ip_hash follows X-Forwarded-For only from a trusted proxy', async () => {
    const servers = await Promise.all(['0', '1', '2'].map((name) => named(name)));
    const pool = `[upstreams.pool]\nstrategy = "ip_hash"\n${instancesToml('pool', servers)}\n[[routes]]\npath_prefix = "/"\nupstream = "pool"\n`;
    const trusting = await warpdrive(`[middleware]\ntrusted_proxies = ["127.0.0.1"]\n\n${pool}`);
    const wary = await warpdrive(pool);
    const clientOf = (n: number) => `198.51.100.${n}`;
    const via = async (wd: RunningWarpdrive, n: number) => (await (await request(`${wd.url}/`, { headers: { 'x-forwarded-for': clientOf(n) } })).body.text());

    const assigned = new Map<number, string>();
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < 60; n++) {
        const got = await via(trusting, n);
        if (round === 0) assigned.set(n, got);
        else assert.equal(got, assigned.get(n), `client ${clientOf(n)} moved`);
      }
    }
    assert.equal(new Set(assigned.values()).size, 3, 'forwarded clients spread over the pool');
    // From an untrusted peer the header is ignored: every request is the same client, 127.0.0.1.
    const seen = new Set<string>();
    for (let n = 0; n < 60; n++) seen.add(await via(wary, n));
    assert.equal(seen.size, 1);
  });

  it('a request waits for an instance whose process is still starting instead of getting 503', async () => {
    const socket = path.join(tempDir('wd-e2e-start-'), 'slow.sock');
    const wd = await warpdrive(
      `[upstreams.slow]\nsocket = ${JSON.stringify(socket)}\nprocess.command = ${JSON.stringify(process.execPath)}\nprocess.args = [${JSON.stringify(childScript())}]\nprocess.env = { LISTEN = ${JSON.stringify(socket)}, NAME = "slow", LISTEN_DELAY_MS = "700" }\n\n[[routes]]\npath_prefix = "/"\nupstream = "slow"\n`,
    );
    const res = await request(`${wd.url}/first`);
    const body = await res.body.text();
    assert.equal(res.statusCode, 200, body);
    assert.match(body, /^slow \d+$/);
  });
});
