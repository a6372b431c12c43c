/**
 * Instance readiness driven by the real supervisor: real child processes on
 * Unix sockets, started, crashed and given up on, with requests through the
 * instances' dispatchers. Waits are for supervisor events, never sleeps.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { tempDir } from '../helpers/upstream.js';
import { SupervisorClient } from '../../src/supervisor/client.js';
import { createUpstreams, linkSupervisor } from '../../src/upstream/index.js';
import type { Upstream } from '../../src/upstream/upstream.js';
import { childProcess, instance, planOf, unix, upstream as upstreamOf, fastRestart, EventLog } from '../supervisor/helpers.js';
import { sendThrough } from './fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function start(plan: ReturnType<typeof planOf>, options: Parameters<typeof SupervisorClient.start>[1] = {}): { client: SupervisorClient; upstreams: Map<string, Upstream>; events: EventLog } {
  const upstreams = createUpstreams(plan);
  const client = SupervisorClient.start(plan, { restart: fastRestart, statsIntervalMs: 0, logToStderr: false, logEvents: false, ...options });
  const events = new EventLog(client);
  const unlink = linkSupervisor(upstreams, client);
  cleanups.push(async () => {
    unlink();
    await client.stop();
    await Promise.all([...upstreams.values()].map((u) => u.close()));
  });
  return { client, upstreams, events };
}

describe('supervisor → instance readiness', { timeout: 60_000 }, () => {
  it('requests wait for starting processes, skip a crashed one while it restarts, and use it again when ready', async () => {
    const dir = tempDir('wd-link-');
    const sockets = [0, 1].map((i) => path.join(dir, `app${i}.sock`));
    const plan = planOf(
      [upstreamOf('app', sockets.map((s, i) => instance(`app#${i}`, unix(s), childProcess({ LISTEN: s, NAME: `app#${i}` }))))],
      ['app#0', 'app#1'],
    );
    const { client, upstreams, events } = start(plan);
    const app = upstreams.get('app')!;
    const [a, b] = app.instances;

    assert.equal(app.isStarting(), true);
    const first = await app.waitForInstance('127.0.0.1', 30_000);
    assert.ok(first === a || first === b, 'an instance became available when its process was ready');
    await client.whenSettled();
    assert.equal(app.isStarting(), false);
    const bodies = new Set<string>();
    for (let n = 0; n < 4; n++) bodies.add((await sendThrough(app)).body!.split(' ')[0]!);
    assert.deepEqual([...bodies].sort(), ['app#0', 'app#1']);

    // Crash app#0 through its own /crash endpoint; the supervisor restarts it.
    const exited = events.waitFor((e) => e.type === 'exited' && e.unit === 'app#0');
    await a!.dispatcher.request({ method: 'GET', path: '/crash' }).catch(() => undefined);
    await exited;
    assert.equal(a!.isAvailable(), false);
    assert.equal(app.isStarting(), true);
    for (let n = 0; n < 6; n++) assert.equal(app.select('127.0.0.1'), b);

    await events.waitFor((e) => e.type === 'ready' && e.unit === 'app#0', 30_000, events.events.length - 1);
    assert.equal(a!.isAvailable(), true);
    assert.equal(app.isStarting(), false);
  });

  it('a unit the supervisor gives up on is gone: nothing to wait for', async () => {
    const dir = tempDir('wd-link-');
    const socket = path.join(dir, 'doomed.sock');
    const plan = planOf([upstreamOf('doomed', [instance('doomed#0', unix(socket), childProcess({ LISTEN: socket, EXIT_AT_ONCE: '1' }))])], ['doomed#0']);
    const { upstreams, events } = start(plan, { restart: { ...fastRestart, maxCrashes: 2, baseDelayMs: 20 } });
    const doomed = upstreams.get('doomed')!;
    assert.equal(doomed.isStarting(), true);
    await events.waitFor((e) => e.type === 'failed');
    assert.equal(doomed.isStarting(), false);
    assert.equal(doomed.select('127.0.0.1'), undefined);
    // A parked request is not kept waiting for a process that will not come.
    assert.equal(await doomed.waitForInstance('127.0.0.1', 0), undefined);
  });

  it('instances of units left out by --except are treated as run elsewhere (ready)', async () => {
    const dir = tempDir('wd-link-');
    const socket = path.join(dir, 'elsewhere.sock');
    const plan = planOf([upstreamOf('elsewhere', [instance('elsewhere#0', unix(socket), childProcess({ LISTEN: socket }))])], ['elsewhere#0']);
    const { upstreams } = start(plan, { except: ['elsewhere'] });
    assert.equal(upstreams.get('elsewhere')!.instances[0]!.isAvailable(), true);
  });
});
