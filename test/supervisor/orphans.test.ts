/**
 * No supervised process outlives warpdrive: not when warpdrive is SIGKILLed
 * (no cleanup code runs at all), and not when the supervisor worker thread dies.
 * Checked against the process table (/proc), grandchildren included.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from '../helpers/upstream.js';
import { SupervisorClient } from '../../src/supervisor/client.js';
import {
  EventLog, childProcess, fastRestart, firstRecord, freePort, instance, isAlive, listenOf, liveGroupMembers, planOf, readRecord, recordFile, survivorsAfter, tcp, unix, upstream,
} from './helpers.js';

const clientModule = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/supervisor/client.js')).href;

/**
 * A warpdrive-like parent: starts a SupervisorClient over the plan in PLAN_FILE
 * (upstreams as an array, since a Map does not survive JSON), prints the units'
 * pids once everything is ready, then idles until it is killed.
 */
const parentSource = `
import { readFileSync } from 'node:fs';
import { SupervisorClient } from ${JSON.stringify(clientModule)};
const raw = JSON.parse(readFileSync(process.env.PLAN_FILE, 'utf8'));
const plan = { ...raw, upstreams: new Map(raw.upstreams.map((u) => [u.name, u])) };
const client = SupervisorClient.start(plan, { logToStderr: false, logEvents: false, statsIntervalMs: 0 });
await client.whenSettled();
console.log('SETTLED ' + JSON.stringify(client.states()));
setInterval(() => {}, 1000);
`;

test('SIGKILL of warpdrive leaves no supervised process, grandchild or guard behind', async () => {
  const dir = tempDir('wd-sup-orphan-');
  const record = recordFile();
  const plainAddress = unix(path.join(dir, 'plain.sock'));
  const stubbornAddress = tcp(await freePort());
  const familyAddress = unix(path.join(dir, 'family.sock'));
  const grandchildFile = path.join(dir, 'grandchild.pid');
  const plan = planOf(
    [
      upstream('plain', [instance('plain#0', plainAddress)], childProcess({ NAME: 'plain', RECORD: record, LISTEN: listenOf(plainAddress) })),
      // Ignores SIGTERM: the guard must escalate to SIGKILL on its own.
      upstream('stubborn', [instance('stubborn#0', stubbornAddress)], childProcess({ NAME: 'stubborn', RECORD: record, LISTEN: listenOf(stubbornAddress), IGNORE_TERM: '1' }, { stopTimeoutMs: 500 })),
      upstream('family', [instance('family#0', familyAddress)], childProcess({ NAME: 'family', RECORD: record, LISTEN: listenOf(familyAddress), GRANDCHILD: grandchildFile }, { dependsOn: ['plain'] })),
    ],
    ['plain', 'stubborn', 'family'],
  );
  const planFile = path.join(dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify({ ...plan, upstreams: [...plan.upstreams.values()] }));
  const parentFile = path.join(dir, 'parent.mjs');
  writeFileSync(parentFile, parentSource);

  const parent = spawn(process.execPath, [parentFile], { env: { ...process.env, PLAN_FILE: planFile }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  let output = '';
  const states = await new Promise<Array<{ unit: string; pid: number; state: string }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parent did not settle; output: ${output}`)), 30_000);
    parent.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /SETTLED (.*)\n/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(JSON.parse(match[1]!));
      }
    });
    void exited.then(() => reject(new Error(`parent exited early; output: ${output}`)));
  });
  assert.deepEqual(states.map((s) => s.state), ['ready', 'ready', 'ready']);
  const groups = states.map((s) => s.pid);
  const grandchild = Number(readFileSync(grandchildFile, 'utf8'));
  // Everything that must die: the units, their guards' watchers, the grandchild.
  const everyone = [...new Set([...liveGroupMembers(groups), grandchild])];
  assert.ok(everyone.length >= 7, `expected 3 leaders, 3 watchers and a grandchild, found ${everyone.length}`);

  parent.kill('SIGKILL');
  await exited;
  // The stubborn unit needs its stop timeout (500 ms) before SIGKILL; the rest go at once.
  const survivors = await survivorsAfter(everyone, 10_000);
  assert.deepEqual(survivors, [], `survivors: ${survivors.map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'latin1').replaceAll('\0', ' '); } catch { return String(p); } }).join('; ')}`);
  assert.deepEqual(liveGroupMembers(groups), []);
  // The shutdown was graceful first: every unit got SIGTERM (the plain ones exited on it).
  const records = readRecord(record);
  for (const name of ['plain', 'stubborn', 'family']) firstRecord(records, name, 'term');
  firstRecord(records, 'plain', 'exit');
});

test('when the worker thread dies, its processes go down with it and a new worker starts the fleet again', async () => {
  const dir = tempDir('wd-sup-');
  const first = unix(path.join(dir, 'a.sock'));
  const second = unix(path.join(dir, 'b.sock'));
  const grandchildFile = path.join(dir, 'g.pid');
  const plan = planOf(
    [
      upstream('a', [instance('a#0', first)], childProcess({ NAME: 'a', LISTEN: listenOf(first), GRANDCHILD: grandchildFile })),
      upstream('b', [instance('b#0', second)], childProcess({ NAME: 'b', LISTEN: listenOf(second) }, { dependsOn: ['a'] })),
    ],
    ['a', 'b'],
  );
  const client = SupervisorClient.start(plan, { logToStderr: false, logEvents: false, statsIntervalMs: 0, restart: fastRestart });
  const events = new EventLog(client);
  try {
    await client.whenSettled();
    const oldPids = client.states().map((s) => s.pid!);
    const oldEveryone = [...liveGroupMembers(oldPids), Number(readFileSync(grandchildFile, 'utf8'))];
    const mark = events.events.length;

    client.crashWorkerForTest('boom in the worker');
    const lost = await events.next('workerLost', undefined, 20_000, mark);
    assert.equal(lost.event.willRestart, true);
    assert.match(lost.event.error.message, /boom in the worker/);
    assert.deepEqual(client.states().map((s) => s.state), ['pending', 'pending']);
    await events.next('workerRestarted', undefined, 20_000, mark);

    // The fleet comes back in dependency order, as new processes, after the old ones are gone.
    const aReady = await events.next('ready', 'a', 20_000, mark);
    const bStarted = await events.next('started', 'b', 20_000, mark);
    assert.ok(aReady.at < bStarted.at);
    await events.next('ready', 'b', 20_000, mark);
    assert.deepEqual(await survivorsAfter(oldEveryone, 0), [], 'a process of the dead worker survived');
    const newPids = client.states().map((s) => s.pid!);
    assert.ok(newPids.every((p) => !oldPids.includes(p)));
    assert.deepEqual(client.states().map((s) => [s.state, s.restarts]), [['ready', 1], ['ready', 1]]);
  } finally {
    await client.stop();
  }
});

test('after too many worker deaths the client gives up: units failed, nothing left running', async () => {
  const address = tcp(await freePort());
  const plan = planOf([upstream('solo', [instance('solo#0', address)], childProcess({ NAME: 'solo', LISTEN: listenOf(address) }))], ['solo']);
  const client = SupervisorClient.start(plan, { logToStderr: false, logEvents: false, statsIntervalMs: 0, maxWorkerRestarts: 0 });
  const events = new EventLog(client);
  try {
    await events.next('ready', 'solo');
    const pid = client.states()[0]!.pid!;
    client.crashWorkerForTest();
    const lost = await events.next('workerLost');
    assert.equal(lost.event.willRestart, false);
    const failed = await events.next('failed', 'solo');
    assert.match(failed.event.reason, /worker died 1 times/);
    assert.equal(client.states()[0]!.state, 'failed');
    assert.deepEqual(await survivorsAfter([pid], 10_000), []);
    assert.equal(isAlive(pid), false);
  } finally {
    await client.stop();
  }
});
