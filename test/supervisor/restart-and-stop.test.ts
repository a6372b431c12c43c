/**
 * Crashes and restarts with backoff, crash-loop protection, a child that ignores
 * SIGTERM, grandchildren reaped with their group, and the stats interface, all
 * with real child processes.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { tempDir } from '../helpers/upstream.js';
import { SupervisorClient } from '../../src/supervisor/client.js';
import {
  EventLog, childProcess, fastRestart, firstRecord, freePort, instance, isAlive, listenOf, planOf, readRecord, recordFile, requestCrash, survivorsAfter, tcp, unix, upstream,
} from './helpers.js';

const quiet = { logToStderr: false, logEvents: false, statsIntervalMs: 0, restart: fastRestart } as const;

test('a crashed process is restarted with growing backoff and serves again', async () => {
  const dir = tempDir('wd-sup-');
  const address = unix(path.join(dir, 'app.sock'));
  const plan = planOf(
    [upstream('app', [instance('app#0', address)], childProcess({ NAME: 'app', LISTEN: listenOf(address), COUNTER: path.join(dir, 'runs') }))],
    ['app'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    // Two crashes, each once the process is ready, then the third run stays up.
    await events.next('ready', 'app');
    await requestCrash(address);
    await events.waitFor((e) => e.type === 'ready' && events.of('ready').length === 2);
    await requestCrash(address);
    await events.waitFor((e) => e.type === 'ready' && events.of('ready').length === 3);
    const exits = events.of('exited', 'app');
    assert.equal(exits.length, 2);
    assert.ok(exits.every((e) => e.code === 1));
    const restarts = events.of('restarting', 'app');
    assert.deepEqual(restarts.map((r) => r.attempt), [1, 2]);
    // Equal jitter: attempt n waits within [step/2, step], step = base * 2^(n-1).
    assert.ok(restarts[0]!.delayMs >= 50 && restarts[0]!.delayMs <= 100, `first delay ${restarts[0]!.delayMs}`);
    assert.ok(restarts[1]!.delayMs >= 100 && restarts[1]!.delayMs <= 200, `second delay ${restarts[1]!.delayMs}`);
    const pids = events.of('started', 'app').map((e) => e.pid);
    assert.equal(new Set(pids).size, 3, 'each restart is a new process');
    const [state] = client.states();
    assert.equal(state!.state, 'ready');
    assert.equal(state!.restarts, 2);
    assert.equal(readFileSync(path.join(dir, 'runs'), 'utf8'), '3');
  } finally {
    await client.stop();
  }
});

test('a crash loop gives up after maxCrashes and reports the last output lines', async () => {
  const address = tcp(await freePort());
  const plan = planOf([upstream('loop', [instance('loop#0', address)], childProcess({ NAME: 'loop', LISTEN: listenOf(address), EXIT_AT_ONCE: '2' }))], ['loop']);
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    const { event } = await events.next('failed', 'loop');
    assert.match(event.reason, /crash loop: exited 4 times/);
    assert.ok(event.lastLines.some((l) => l.includes('boom: exiting at once')), event.lastLines.join(' | '));
    assert.equal(events.of('started', 'loop').length, 4);
    assert.equal(events.of('restarting', 'loop').length, 3);
    assert.equal(client.states()[0]!.state, 'failed');
    // Nothing restarts it afterwards: stopping finds it already down.
    await client.stop();
    assert.equal(events.of('started', 'loop').length, 4);
  } finally {
    await client.stop();
  }
});

test('a command that cannot be run fails at once with a clear reason', async () => {
  const address = tcp(await freePort());
  const plan = planOf([upstream('typo', [instance('typo#0', address)], childProcess({}, { command: 'warpdrive-no-such-command-xyz', args: [] }))], ['typo']);
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    const { event } = await events.next('failed', 'typo');
    assert.match(event.reason, /could not be run .*command not found/);
    assert.equal(events.of('restarting').length, 0);
  } finally {
    await client.stop();
  }
});

test('a child ignoring SIGTERM is killed with SIGKILL after stop_timeout', async () => {
  const record = recordFile();
  const address = tcp(await freePort());
  const plan = planOf(
    [upstream('stubborn', [instance('stubborn#0', address)], childProcess({ NAME: 'stubborn', RECORD: record, LISTEN: listenOf(address), IGNORE_TERM: '1' }, { stopTimeoutMs: 500 }))],
    ['stubborn'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  const ready = await events.next('ready', 'stubborn');
  assert.ok(ready);
  const pid = client.states()[0]!.pid!;
  await client.stop();
  const { event } = await events.next('exited', 'stubborn');
  assert.equal(event.signal, 'SIGKILL');
  firstRecord(readRecord(record), 'stubborn', 'term'); // it did get (and ignore) SIGTERM first
  assert.equal(isAlive(pid), false);
});

test('grandchildren are reaped with their group, at stop and after a crash', async () => {
  const dir = tempDir('wd-sup-');
  const address = unix(path.join(dir, 'parent.sock'));
  const grandchildFile = path.join(dir, 'grandchild.pid');
  const plan = planOf(
    [
      upstream(
        'parent',
        [instance('parent#0', address)],
        childProcess({ NAME: 'parent', LISTEN: listenOf(address), GRANDCHILD: grandchildFile }),
      ),
    ],
    ['parent'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  try {
    await events.next('ready', 'parent');
    const firstGrandchild = Number(readFileSync(grandchildFile, 'utf8'));
    // The first run crashes; its grandchild must not survive into the restart.
    await requestCrash(address);
    await events.next('exited', 'parent');
    assert.deepEqual(await survivorsAfter([firstGrandchild], 5_000), [], 'grandchild of a crashed run survived');
    await events.waitFor((e) => e.type === 'ready' && events.of('ready').length === 2);
    const secondGrandchild = Number(readFileSync(grandchildFile, 'utf8'));
    assert.notEqual(secondGrandchild, firstGrandchild);
    assert.ok(isAlive(secondGrandchild));
    await client.stop();
    assert.equal(isAlive(secondGrandchild), false, 'grandchild survived stop');
  } finally {
    await client.stop();
  }
});

test('stats sample CPU and RSS of the whole process group; max_memory_mb restarts gracefully', async () => {
  const dir = tempDir('wd-sup-');
  const address = unix(path.join(dir, 'hog.sock'));
  const plan = planOf(
    [upstream('hog', [instance('hog#0', address)], childProcess({ NAME: 'hog', LISTEN: listenOf(address), ALLOC_MB: '200', GRANDCHILD: path.join(dir, 'g.pid') }, { maxMemoryMb: 150 }))],
    ['hog'],
  );
  const client = SupervisorClient.start(plan, { ...quiet, statsIntervalMs: 200 });
  const events = new EventLog(client);
  try {
    // Samples taken while the child still allocates or spawns are smaller: wait for the full
    // picture, summed over the group (leader, its grandchild, the guard's watcher).
    const stats = await events.waitFor((e) => e.type === 'stats' && e.rssBytes > 150 * 1024 * 1024 && e.processes >= 3);
    assert.ok(stats);
    const restarting = await events.next('restarting', 'hog');
    assert.match(restarting.event.reason, /over max_memory_mb = 150/);
    assert.equal(restarting.event.attempt, 0);
    await events.waitFor((e) => e.type === 'ready' && events.of('ready').length === 2);
    const exits = events.of('exited', 'hog');
    assert.equal(exits[0]!.code, 0, 'the memory restart stopped the process gracefully (SIGTERM, exit 0)');
    assert.ok(client.states()[0]!.rssBytes > 0);
  } finally {
    await client.stop();
  }
});

test('stopping during start-up (Ctrl-C while booting) ends what runs and starts nothing more', async () => {
  const record = recordFile();
  const dir = tempDir('wd-sup-');
  const dbAddress = unix(path.join(dir, 'db.sock'));
  const apiAddress = tcp(await freePort());
  const plan = planOf(
    [
      upstream('db', [instance('db#0', dbAddress)], childProcess({ NAME: 'db', RECORD: record, LISTEN: listenOf(dbAddress), LISTEN_DELAY_MS: '60000' })),
      upstream('api', [instance('api#0', apiAddress)], childProcess({ NAME: 'api', RECORD: record, LISTEN: listenOf(apiAddress) }, { dependsOn: ['db'] })),
    ],
    ['db', 'api'],
  );
  const client = SupervisorClient.start(plan, quiet);
  const events = new EventLog(client);
  const started = await events.next('started', 'db');
  await client.stop();
  assert.equal(isAlive(started.event.pid), false);
  assert.equal(events.of('started', 'api').length, 0);
  assert.equal(readRecord(record).filter((r) => r.name === 'api').length, 0);
  assert.deepEqual(client.states().map((s) => s.state), ['stopped', 'stopped']);
});

test('stopping while a crashed process waits for its restart cancels the restart', async () => {
  const address = tcp(await freePort());
  const plan = planOf([upstream('app', [instance('app#0', address)], childProcess({ NAME: 'app', LISTEN: listenOf(address) }))], ['app']);
  // A long backoff, so the stop surely lands inside it.
  const client = SupervisorClient.start(plan, { ...quiet, restart: { ...fastRestart, baseDelayMs: 60_000, maxDelayMs: 60_000 } });
  const events = new EventLog(client);
  await events.next('ready', 'app');
  await requestCrash(address);
  await events.next('restarting', 'app');
  assert.equal(client.states()[0]!.state, 'backoff');
  await client.stop();
  assert.equal(events.of('started', 'app').length, 1);
  assert.equal(client.states()[0]!.state, 'stopped');
});
