/**
 * Supervision end to end through the real warpdrive CLI: real child processes
 * behind the proxy, real clients (undici).
 */

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import http from 'node:http';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request, Agent } from 'undici';
import { startWarpdrive, writeConfig, runCli, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { tempDir } from '../helpers/upstream.js';
import { childScript, firstRecord, freePort, readRecord, recordFile, requestCrash, survivorsAfter, tcp } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const node = JSON.stringify(process.execPath);

function processKeys(env: Record<string, string>, extra = ''): string {
  const pairs = Object.entries(env).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ');
  return `process.command = ${node}\nprocess.args = [${JSON.stringify(childScript())}]\nprocess.env = { ${pairs} }\n${extra}`;
}

async function warpdrive(toml: string, args: string[] = []): Promise<RunningWarpdrive> {
  const wd = await startWarpdrive(writeConfig(`[server]\nbind_address = "127.0.0.1"\nhttp_port = 0\n\n${toml}`), { args });
  cleanups.push(() => wd.stop());
  return wd;
}

/** Pids of the supervised processes, from warpdrive's own log lines. */
function startedPids(wd: RunningWarpdrive): Map<string, number[]> {
  const pids = new Map<string, number[]>();
  for (const match of wd.output().matchAll(/\[supervisor\] (\S+): started, pid (\d+)/g)) {
    pids.set(match[1]!, [...(pids.get(match[1]!) ?? []), Number(match[2])]);
  }
  return pids;
}

async function outputMatches(wd: RunningWarpdrive, pattern: RegExp, count = 1, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((wd.output().match(new RegExp(pattern.source, 'g')) ?? []).length < count) {
    if (Date.now() > deadline) throw new Error(`warpdrive output never matched ${pattern} ${count} time(s):\n${wd.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test('no request reaches a supervised child before it listens; the early request waits and succeeds', async () => {
  const record = recordFile();
  const socket = path.join(tempDir('wd-sup-e2e-'), 'late.sock');
  const wd = await warpdrive(
    `[upstreams.late]\nsocket = ${JSON.stringify(socket)}\n${processKeys({ NAME: 'late', LISTEN: socket, RECORD: record, LISTEN_DELAY_MS: '500' })}\n[[routes]]\npath_prefix = "/"\nupstream = "late"\n`,
  );
  // warpdrive listens before the child does: this request arrives while it is starting.
  const response = await request(`${wd.url}/early`);
  assert.equal(response.statusCode, 200, await response.body.text());
  const records = readRecord(record);
  assert.ok(firstRecord(records, 'late', 'listening').at < firstRecord(records, 'late', 'request /early').at);
});

test('while one instance-level process restarts, its sibling serves every request', async () => {
  const [port0, port1] = [await freePort(), await freePort()];
  const instanceToml = (port: number, name: string) =>
    `[[upstreams.app.instances]]\nhost = "127.0.0.1"\nport = ${port}\n${processKeys({ NAME: name, LISTEN: String(port) })}`;
  const wd = await warpdrive(`[upstreams.app]\n${instanceToml(port0, 'app0')}\n${instanceToml(port1, 'app1')}\n[[routes]]\npath_prefix = "/"\nupstream = "app"\n`);
  await outputMatches(wd, /\[supervisor\] app#\d: ready/, 2);
  const agent = new Agent({ connections: 4 });
  cleanups.push(() => agent.close());

  let failures = 0;
  const seen = new Map<string, number>();
  /** Requests app0 had served when its restarted process became ready; undefined until then. */
  let app0AtReady: number | undefined;
  // Sequential load through the crash, until the restarted app0 has served again (bounded in count and time).
  const load = (async () => {
    const deadline = Date.now() + 30_000;
    for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
      const response = await request(`${wd.url}/n${i}`, { dispatcher: agent }).catch(() => undefined);
      const body = response ? await response.body.text() : '';
      if (response?.statusCode !== 200) failures += 1;
      else {
        const name = body.split(' ')[0]!;
        seen.set(name, (seen.get(name) ?? 0) + 1);
      }
      if (app0AtReady !== undefined && (seen.get('app0') ?? 0) >= app0AtReady + 5) return;
    }
    throw new Error(`load ended before the restarted app0 served again: ${JSON.stringify([...seen])}`);
  })();
  // Crash app0 directly (not through the proxy) while the load runs.
  await outputMatches(wd, /\[supervisor\] app#\d: ready/, 2);
  for (const until = Date.now() + 20_000; (seen.get('app0') ?? 0) < 5; ) {
    if (Date.now() > until) throw new Error(`app0 never served before the crash: ${JSON.stringify([...seen])}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await requestCrash(tcp(port0));
  await outputMatches(wd, /\[supervisor\] app#0: ready/, 2);
  app0AtReady = seen.get('app0') ?? 0;
  await load;
  assert.equal(failures, 0, `failed requests during the restart; output:\n${wd.output().slice(-3000)}`);
  assert.ok((seen.get('app1') ?? 0) > 0 && (seen.get('app0') ?? 0) > 0, JSON.stringify([...seen]));
  assert.match(wd.output(), /app#0: restarting in \d+ ms \(attempt 1\)/);
  assert.doesNotMatch(wd.output(), /app#1: (stopping|restarting|pid \d+ exited)/);
});

test('SIGTERM stops the fleet dependents-first and exits 0; SIGKILL of warpdrive leaves nothing behind', async () => {
  const record = recordFile();
  const dir = tempDir('wd-sup-e2e-');
  const dbSocket = path.join(dir, 'db.sock');
  const webPort = await freePort();
  const toml =
    `[upstreams.db]\nsocket = ${JSON.stringify(dbSocket)}\n${processKeys({ NAME: 'db', LISTEN: dbSocket, RECORD: record })}\n` +
    `[upstreams.web]\nhost = "127.0.0.1"\nport = ${webPort}\n${processKeys({ NAME: 'web', LISTEN: String(webPort), RECORD: record, CONNECT_TO: dbSocket, GRANDCHILD: path.join(dir, 'g.pid') }, 'process.depends_on = ["db"]\n')}\n` +
    `[[routes]]\npath_prefix = "/"\nupstream = "web"\n`;

  const first = await warpdrive(toml);
  await outputMatches(first, /\[supervisor\] web: ready/);
  assert.equal((await request(first.url)).statusCode, 200);
  const firstPids = [...startedPids(first).values()].flat();
  assert.equal(await first.stop('SIGTERM'), 0);
  const records = readRecord(record);
  assert.ok(firstRecord(records, 'web', 'exit').at < firstRecord(records, 'db', 'term').at);
  assert.deepEqual(await survivorsAfter(firstPids, 0), []);

  const second = await warpdrive(toml);
  await outputMatches(second, /\[supervisor\] web: ready/);
  const grandchild = Number(readFileSync(path.join(dir, 'g.pid'), 'utf8'));
  const secondPids = [...[...startedPids(second).values()].flat(), grandchild];
  second.child.kill('SIGKILL');
  await second.exited;
  assert.deepEqual(await survivorsAfter(secondPids, 15_000), []);
});

test('--only starts the named process and its dependencies; a bad name is refused', async () => {
  const [aPort, bPort, cPort] = [await freePort(), await freePort(), await freePort()];
  const toml =
    `[upstreams.a]\nhost = "127.0.0.1"\nport = ${aPort}\n${processKeys({ NAME: 'a', LISTEN: String(aPort) })}\n` +
    `[upstreams.b]\nhost = "127.0.0.1"\nport = ${bPort}\n${processKeys({ NAME: 'b', LISTEN: String(bPort) }, 'process.depends_on = ["a"]\n')}\n` +
    `[upstreams.c]\nhost = "127.0.0.1"\nport = ${cPort}\n${processKeys({ NAME: 'c', LISTEN: String(cPort) })}\n` +
    `[[routes]]\npath_prefix = "/"\nupstream = "b"\n`;
  const wd = await warpdrive(toml, ['--only', 'b']);
  await outputMatches(wd, /\[supervisor\] b: ready/);
  assert.deepEqual([...startedPids(wd).keys()].sort(), ['a', 'b']);
  assert.match(wd.output(), /starting a too: b depends on it/);

  const config = writeConfig(`[server]\nbind_address = "127.0.0.1"\nhttp_port = 0\n\n${toml}`);
  const refused = await runCli(['--config', config, '--only', 'bb']);
  assert.notEqual(refused.code, 0, 'a bad --only name must not start warpdrive');
  assert.match(refused.stderr, /--only "bb" is not a supervised upstream or instance\. Did you mean "b"\?/);
});

test('--except leaves a process to the user: warpdrive proxies to it as soon as it answers', async () => {
  const [apiPort, webPort] = [await freePort(), await freePort()];
  const toml =
    `[upstreams.api]\nhost = "127.0.0.1"\nport = ${apiPort}\n${processKeys({ NAME: 'api-supervised', LISTEN: String(apiPort) })}\n` +
    `[upstreams.web]\nhost = "127.0.0.1"\nport = ${webPort}\n${processKeys({ NAME: 'web', LISTEN: String(webPort) }, 'process.depends_on = ["api"]\n')}\n` +
    `[[routes]]\npath_prefix = "/api"\nupstream = "api"\n[[routes]]\npath_prefix = "/"\nupstream = "web"\n`;
  // The user runs api by hand (say, under a debugger).
  const byHand = http.createServer((_req, res) => res.end('api-by-hand'));
  byHand.listen(apiPort, '127.0.0.1');
  await once(byHand, 'listening');
  cleanups.push(() => new Promise((resolve) => byHand.close(resolve)));

  const wd = await warpdrive(toml, ['--except', 'api']);
  await outputMatches(wd, /\[supervisor\] web: ready/);
  assert.deepEqual([...startedPids(wd).keys()], ['web']);
  assert.match(wd.output(), /web starts without waiting for api, which is excluded/);
  const response = await request(`${wd.url}/api/x`);
  assert.equal(await response.body.text(), 'api-by-hand');
});
