/**
 * Dependency order at start, readiness gating, and reverse order at stop, from
 * what real child servers record (CLOCK_MONOTONIC timestamps, one clock for all).
 */

import { test } from 'node:test';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { lstatSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import path from 'node:path';
import { tempDir } from '../helpers/upstream.js';
import { SupervisorClient } from '../../src/supervisor/client.js';
import {
  EventLog, childProcess, firstRecord, freePort, instance, isEvent, listenOf, planOf, readRecord, recordFile, survivorsAfter, tcp, unix, upstream,
} from './helpers.js';

const quiet = { logToStderr: false, logEvents: false, statsIntervalMs: 0 } as const;

test('dependencies start first and only once ready; stop runs dependents first', async () => {
  const record = recordFile();
  const dbAddress = unix(path.join(tempDir('wd-sup-'), 'db.sock'));
  const apiAddress = tcp(await freePort());
  const webAddress = tcp(await freePort());
  const plan = planOf(
    [
      // db takes a while to listen: api must not start before it does.
      upstream('db', [instance('db#0', dbAddress)], childProcess({ NAME: 'db', RECORD: record, LISTEN: listenOf(dbAddress), LISTEN_DELAY_MS: '300' })),
      // api exits with an error if db does not accept when api starts.
      upstream('api', [instance('api#0', apiAddress)], childProcess({ NAME: 'api', RECORD: record, LISTEN: listenOf(apiAddress), CONNECT_TO: dbAddress.socketPath }, { dependsOn: ['db'] })),
      upstream('web', [instance('web#0', webAddress)], childProcess({ NAME: 'web', RECORD: record, LISTEN: listenOf(webAddress), CONNECT_TO: String(apiAddress.port) }, { dependsOn: ['api'] })),
    ],
    ['db', 'api', 'web'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    const webReady = await events.waitFor(isEvent('ready', 'web'));
    const records = readRecord(record);
    // Start order: each dependent spawns after its dependency listens.
    assert.ok(firstRecord(records, 'db', 'listening').at < firstRecord(records, 'api', 'spawn').at, 'api spawned before db listened');
    assert.ok(firstRecord(records, 'api', 'listening').at < firstRecord(records, 'web', 'spawn').at, 'web spawned before api listened');
    firstRecord(records, 'api', 'dependency-reachable');
    firstRecord(records, 'web', 'dependency-reachable');
    // Readiness is never reported before the child listens.
    const dbReady = await events.waitFor(isEvent('ready', 'db'));
    assert.ok(firstRecord(records, 'db', 'listening').at < dbReady.at);
    assert.ok(firstRecord(records, 'web', 'listening').at < webReady.at);
    assert.deepEqual(events.of('ready').map((e) => e.unit), ['db', 'api', 'web']);
    assert.deepEqual(client.states().map((s) => s.state), ['ready', 'ready', 'ready']);
    const pids = client.states().map((s) => s.pid!);

    await client.stop();
    const after = readRecord(record);
    // Stop order: a dependency is signalled only after its dependents exited.
    assert.ok(firstRecord(after, 'web', 'exit').at < firstRecord(after, 'api', 'term').at, 'api signalled before web exited');
    assert.ok(firstRecord(after, 'api', 'exit').at < firstRecord(after, 'db', 'term').at, 'db signalled before api exited');
    assert.deepEqual(events.of('stopping').map((e) => e.unit), ['web', 'api', 'db']);
    assert.deepEqual(await survivorsAfter(pids, 0), []);
    assert.deepEqual(client.states().map((s) => s.state), ['stopped', 'stopped', 'stopped']);
  } finally {
    await client.stop();
  }
});

test('a health check gates readiness: listening is not enough while /health answers 503', async () => {
  const record = recordFile();
  const address = tcp(await freePort());
  const plan = planOf(
    [upstream('app', [instance('app#0', address)], childProcess({ NAME: 'app', RECORD: record, LISTEN: listenOf(address), HEALTH_FAIL_FIRST: '3' }), { path: '/health' })],
    ['app'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    const ready = await events.waitFor(isEvent('ready', 'app'));
    const records = readRecord(record);
    const healthOk = firstRecord(records, 'app', 'health-ok');
    assert.ok(firstRecord(records, 'app', 'listening').at < healthOk.at);
    assert.ok(healthOk.at < ready.at, 'ready reported before the health check passed');
  } finally {
    await client.stop();
  }
});

test('an upstream-level process serving several instances is ready only when all of them accept', async () => {
  // One process, two Unix sockets, the second opened later: like puma with several binds.
  const dir = tempDir('wd-sup-');
  const first = unix(path.join(dir, 'a.sock'));
  const second = unix(path.join(dir, 'b.sock'));
  const record = recordFile();
  const script = `
    const http = require('node:http');
    const { appendFileSync } = require('node:fs');
    const rec = (e) => appendFileSync(${JSON.stringify(record)}, process.hrtime.bigint() + ' pool ' + e + '\\n');
    http.createServer((q, s) => s.end('a')).listen(${JSON.stringify(first.socketPath)}, () => rec('listening-a'));
    setTimeout(() => http.createServer((q, s) => s.end('b')).listen(${JSON.stringify(second.socketPath)}, () => rec('listening-b')), 300);
    process.on('SIGTERM', () => process.exit(0));
  `;
  const plan = planOf(
    [upstream('pool', [instance('pool#0', first), instance('pool#1', second)], childProcess({}, { args: ['-e', script] }))],
    ['pool'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    const ready = await events.next('ready', 'pool');
    assert.deepEqual(ready.event.instanceIds, ['pool#0', 'pool#1']);
    assert.ok(firstRecord(readRecord(record), 'pool', 'listening-b').at < ready.at);
  } finally {
    await client.stop();
  }
});

test('a start timeout fails the unit with its last output lines, kills it, and fails its dependents', async () => {
  const address = tcp(await freePort());
  const otherAddress = tcp(await freePort());
  const plan = planOf(
    [
      upstream('slow', [instance('slow#0', address)], childProcess({ NAME: 'slow', LISTEN: listenOf(address), NEVER_LISTEN: '1', PRINT: 'hello from slow' }, { startTimeoutMs: 800 })),
      upstream('after', [instance('after#0', otherAddress)], childProcess({ NAME: 'after', LISTEN: listenOf(otherAddress) }, { dependsOn: ['slow'] })),
    ],
    ['slow', 'after'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    const started = await events.next('started', 'slow');
    const { event } = await events.next('failed', 'slow');
    assert.match(event.reason, /start timeout/);
    assert.ok(event.lastLines.some((l) => l.includes('hello from slow')), `last lines: ${event.lastLines.join(' | ')}`);
    assert.deepEqual(await survivorsAfter([started.event.pid], 5_000), []);
    const dependent = await events.next('failed', 'after');
    assert.match(dependent.event.reason, /dependency slow failed/);
    assert.equal(events.of('started', 'after').length, 0);
    await client.whenSettled();
  } finally {
    await client.stop();
  }
});

test('an address that already accepts before the process starts is refused, not mistaken for readiness', async () => {
  const stranger = net.createServer((socket) => socket.destroy());
  stranger.listen(0, '127.0.0.1');
  await once(stranger, 'listening');
  const port = (stranger.address() as AddressInfo).port;
  const plan = planOf([upstream('app', [instance('app#0', tcp(port))], childProcess({ NAME: 'app', LISTEN: String(port) }))], ['app']);
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    const { event } = await events.next('failed', 'app');
    assert.match(event.reason, new RegExp(`app#0: 127\\.0\\.0\\.1:${port} already accepts connections before the process started`));
    assert.equal(events.of('started').length, 0);
    assert.equal(events.of('ready').length, 0);
  } finally {
    await client.stop();
    stranger.close();
  }
});

test('a stale Unix socket file (nobody listening) is removed before the process starts', async () => {
  const socketPath = path.join(tempDir('wd-sup-'), 'stale.sock');
  // Leave a socket file behind the way a SIGKILLed server does (no chance to unlink it).
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' });
  assert.equal(lstatSync(socketPath).isSocket(), true);

  // This server does not unlink before binding (many do not): the supervisor must.
  const script = `require('http').createServer((q, s) => s.end('ok')).listen(${JSON.stringify(socketPath)}); process.on('SIGTERM', () => process.exit(0));`;
  const plan = planOf([upstream('app', [instance('app#0', unix(socketPath))], childProcess({}, { args: ['-e', script] }))], ['app']);
  const client = SupervisorClient.start(plan, { ...quiet, forwardLogs: true });
  const events = new EventLog(client);
  try {
    await events.next('ready', 'app');
    assert.ok(events.of('log', 'app').some((e) => e.line.includes('removed stale socket')));
  } finally {
    await client.stop();
  }
});
