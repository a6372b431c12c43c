/**
 * The Upstream as the proxy uses it: waiting for an instance while processes
 * start, isStarting, Retry-After hints, closing, and the module's state snapshot.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RuntimePlan } from '../../src/config/types.js';
import { createUpstreams, snapshotStates } from '../../src/upstream/index.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { startUpstream } from '../helpers/upstream.js';
import { addressOf, fakeProcess, idleAddresses, sendThrough, upstreamSpec } from './fixtures.js';

const opened: Upstream[] = [];
function make(...args: Parameters<typeof upstreamSpec>): Upstream {
  const upstream = new Upstream(upstreamSpec(...args));
  opened.push(upstream);
  return upstream;
}
after(async () => {
  await Promise.all(opened.map((u) => u.close()));
});

describe('Upstream', { timeout: 20_000 }, () => {
  it('waitForInstance resolves as soon as a starting process reports ready', async () => {
    const upstream = make(idleAddresses(2), { process: fakeProcess });
    assert.equal(upstream.isStarting(), true);
    assert.equal(upstream.select('1.1.1.1'), undefined);
    const waiting = upstream.waitForInstance('1.1.1.1', 60_000);
    upstream.instances[1]!.setProcessReady(true);
    assert.equal(await waiting, upstream.instances[1]);
    // One instance still starting.
    assert.equal(upstream.isStarting(), true);
    upstream.instances[0]!.setProcessReady(true);
    assert.equal(upstream.isStarting(), false);
  });

  it('waitForInstance resolves at once when an instance is available', async () => {
    const upstream = make(idleAddresses(1));
    assert.equal(upstream.isStarting(), false);
    assert.equal(await upstream.waitForInstance('1.1.1.1', 60_000), upstream.instances[0]);
  });

  it('waitForInstance gives undefined after its timeout when nothing becomes available', async () => {
    const upstream = make(idleAddresses(1), { process: fakeProcess });
    assert.equal(await upstream.waitForInstance('1.1.1.1', 30), undefined);
  });

  it('wakes every parked request, each through the strategy', async () => {
    const upstream = make(idleAddresses(2), { process: fakeProcess, strategy: 'round_robin' });
    const waits = Array.from({ length: 4 }, () => upstream.waitForInstance('1.1.1.1', 60_000));
    for (const i of upstream.instances) i.setProcessReady(true);
    const got = await Promise.all(waits);
    assert.ok(got.every((i) => i !== undefined));
  });

  it('close() releases parked requests with undefined', async () => {
    const upstream = new Upstream(upstreamSpec(idleAddresses(1), { process: fakeProcess }));
    const waiting = upstream.waitForInstance('1.1.1.1', 60_000);
    await upstream.close();
    assert.equal(await waiting, undefined);
  });

  it('retryAfterSeconds: until the earliest ejection ends, else one health interval, else 1', () => {
    const plain = make(idleAddresses(2));
    assert.equal(plain.retryAfterSeconds(), 1);
    const checked = make(idleAddresses(2), { health: { intervalMs: 5_000 } });
    assert.equal(checked.retryAfterSeconds(), 5);
    const ejecting = make(idleAddresses(2), { passive: { maxFails: 1, failTimeoutMs: 30_000 } });
    for (const i of ejecting.instances) {
      i.requestStarted();
      i.requestFinished('connect_failure');
    }
    const hint = ejecting.retryAfterSeconds();
    assert.ok(hint > 1 && hint <= 30, `hint ${hint}`);
  });

  it('createUpstreams builds one Upstream per plan entry; snapshotStates reports every instance', async () => {
    const s = await startUpstream((_req, res) => res.end('ok'));
    const pool = upstreamSpec([addressOf(s), ...idleAddresses(1)], { name: 'rails', passive: { maxFails: 1, failTimeoutMs: 60_000 } });
    const single = upstreamSpec([{ kind: 'unix', socketPath: '/tmp/nobody-listens.sock' }], { name: 'cable', process: fakeProcess });
    const plan = { upstreams: new Map([['rails', pool], ['cable', single]]) } as unknown as RuntimePlan;
    const upstreams = createUpstreams(plan);
    try {
      assert.deepEqual([...upstreams.keys()], ['rails', 'cable']);
      const rails = upstreams.get('rails')!;
      assert.equal((await sendThrough(rails)).body, 'ok');
      assert.equal((await sendThrough(rails)).outcome, 'connect_failure');
      const states = snapshotStates(upstreams);
      assert.equal(states.length, 3);
      const [up, ejected, starting] = states;
      assert.deepEqual(
        { ...up },
        { id: 'rails#0', upstream: 'rails', address: `127.0.0.1:${s.port}`, available: true, processReady: true, health: 'unknown', breaker: 'closed', inFlight: 0, requests: 1, failures: 0, consecutiveFailures: 0 },
      );
      assert.equal(ejected!.available, false);
      assert.equal(ejected!.breaker, 'open');
      assert.equal(typeof ejected!.ejectedUntil, 'number');
      assert.equal(ejected!.failures, 1);
      assert.deepEqual([starting!.id, starting!.address, starting!.processReady, starting!.available], ['cable#0', 'unix:/tmp/nobody-listens.sock', false, false]);
      // Plain data: it survives structured cloning (e.g. to a worker or a status endpoint).
      assert.deepEqual(structuredClone(states), states);
    } finally {
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      await s.close();
    }
  });
});
