/**
 * Readiness as a proxy worker sees it: the real supervisor with real children,
 * its events recorded on this thread and replayed/relayed into a second set of
 * upstreams, as the main thread does for each proxy worker.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { tempDir } from '../helpers/upstream.js';
import { SupervisorClient } from '../../src/supervisor/client.js';
import { RelayedSupervisor, SupervisorRecorder } from '../../src/threads/supervisor-relay.js';
import { createUpstreams, linkSupervisor } from '../../src/upstream/index.js';
import { childProcess, instance, planOf, unix, upstream as upstreamOf, fastRestart, EventLog } from '../supervisor/helpers.js';
import { sendThrough } from '../upstream/fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('supervisor relay for proxy workers', { timeout: 60_000 }, () => {
  it('a late subscriber starts from the present, then follows a crash and the restart', async () => {
    const socket = path.join(tempDir('wd-relay-'), 'app.sock');
    const plan = planOf([upstreamOf('app', [instance('app#0', unix(socket), childProcess({ LISTEN: socket, NAME: 'app#0' }))])], ['app#0']);
    const client = SupervisorClient.start(plan, { restart: fastRestart, statsIntervalMs: 0, logToStderr: false, logEvents: false });
    const recorder = new SupervisorRecorder(client);
    const events = new EventLog(client);
    cleanups.push(() => client.stop());
    await events.waitFor((e) => e.type === 'ready');

    // A "worker" that starts only now, after the process became ready.
    const relayed = new RelayedSupervisor(structuredClone(recorder.snapshot()));
    recorder.on((event) => relayed.deliver(structuredClone(event)));
    const upstreams = createUpstreams(plan);
    cleanups.push(async () => Promise.all([...upstreams.values()].map((u) => u.close())).then(() => undefined));
    linkSupervisor(upstreams, relayed);
    const app = upstreams.get('app')!;
    const [late] = app.instances;
    assert.equal(late!.isAvailable(), true, 'replayed "ready": available at once');
    assert.equal((await sendThrough(app)).body, `app#0 ${client.states()[0]!.pid}`);

    // Crash the child: the relayed instance goes away with it, and comes back with the restart.
    const exited = events.waitFor((e) => e.type === 'exited');
    await late!.dispatcher.request({ method: 'GET', path: '/crash' }).catch(() => undefined);
    await exited;
    assert.equal(late!.isAvailable(), false);
    assert.equal(app.isStarting(), true, 'requests wait for the restart');
    await events.waitFor((e) => e.type === 'ready', 30_000, events.events.length - 1);
    assert.equal(late!.isAvailable(), true);
  });

  it('a lost supervisor worker is replayed as "away" when it will restart, "gone" when it will not', () => {
    const listeners: Array<(e: Parameters<Parameters<SupervisorClient['on']>[0]>[0]) => void> = [];
    const units = [{ name: 'web', instances: [{ id: 'web#0' }] }];
    const recorder = new SupervisorRecorder({ units, excluded: [], on: (l) => (listeners.push(l), () => undefined) });
    const emit = (e: Parameters<(typeof listeners)[number]>[0]) => listeners.forEach((l) => l(e));

    emit({ type: 'ready', unit: 'web', instanceIds: ['web#0'] });
    emit({ type: 'stats', unit: 'web', pid: 1, cpu: 0, rssBytes: 0, processes: 1 });
    assert.deepEqual(recorder.snapshot().replay, [{ type: 'ready', unit: 'web', instanceIds: ['web#0'] }], 'stats are not replayed');
    emit({ type: 'workerLost', error: { code: 'X', message: 'boom' }, willRestart: true });
    assert.deepEqual(recorder.snapshot().replay.map((e) => e.type), ['stopping']);
    emit({ type: 'workerLost', error: { code: 'X', message: 'boom' }, willRestart: false });
    assert.deepEqual(recorder.snapshot().replay.map((e) => e.type), ['failed']);
  });
});
