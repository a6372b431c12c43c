/**
 * Passive health with real traffic: an instance whose connections fail (its
 * server stopped) or that answers 5xx is ejected after max_fails, skipped while
 * ejected, probed once after the cool-down and restored when the probe succeeds.
 * Waits are for real availability changes (waitForInstance), never sleeps.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { Upstream } from '../../src/upstream/upstream.js';
import type { InstanceAddress } from '../../src/config/types.js';
import { captureStderr, idleAddresses, sendThrough, upstreamSpec, type SpecOptions } from './fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A server on a fixed Unix socket path, so it can be stopped and started again at the same address. */
class Restartable {
  readonly socketPath = path.join(tempDir('wd-passive-'), 'instance.sock');
  server: http.Server | undefined;
  constructor(readonly name: string) {}

  async start(): Promise<void> {
    this.server = http.createServer((_req, res) => res.end(this.name));
    this.server.listen(this.socketPath);
    await once(this.server, 'listening');
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/**
 * An upstream of `address` plus a spare instance held down by active health: a
 * single-instance upstream is never ejected (nginx's rule, tested below), so tests
 * of one instance's ejection give it a sibling that takes no traffic.
 */
function withSpare(address: InstanceAddress, options: SpecOptions): Upstream {
  const upstream = new Upstream(upstreamSpec([address, ...idleAddresses(1)], options));
  upstream.instances[1]!.setHealth('down');
  cleanups.push(() => upstream.close());
  return upstream;
}

describe('passive health (circuit breaker) with real requests', { timeout: 20_000 }, () => {
  it('ejects an instance after max_fails connection failures and skips it while ejected', async () => {
    const a = new Restartable('a');
    const b = new Restartable('b');
    await a.start();
    await b.start();
    cleanups.push(() => a.stop(), () => b.stop());
    // A cool-down far longer than the test, so no assertion below races its end.
    const upstream = new Upstream(
      upstreamSpec(
        [
          { kind: 'unix', socketPath: a.socketPath },
          { kind: 'unix', socketPath: b.socketPath },
        ],
        { strategy: 'round_robin', passive: { maxFails: 2, failTimeoutMs: 60_000, maxEjectionMs: 120_000 } },
      ),
    );
    cleanups.push(() => upstream.close());
    const [ia, ib] = upstream.instances;

    await a.stop();
    const { lines } = await captureStderr(async () => {
      // Round robin alternates, so four requests give instance a its two failures.
      const results = [];
      for (let n = 0; n < 4; n++) results.push(await sendThrough(upstream));
      assert.deepEqual(
        results.map((r) => r.outcome),
        ['connect_failure', 'success', 'connect_failure', 'success'],
      );
    });
    assert.equal(ia!.breakerState, 'open');
    assert.equal(ia!.isAvailable(), false);
    assert.ok(ia!.ejectedUntil > Date.now());
    assert.ok(lines.some((l) => /\[upstream\] pool#0 \(unix:.*\) ejected: 2 consecutive failures \(last: connect_failure\); ejected for 60000 ms/.test(l)), lines.join('\n'));

    // While ejected every request goes to b, with no failed attempt at a.
    for (let n = 0; n < 10; n++) {
      const r = await sendThrough(upstream);
      assert.equal(r.instance, ib);
      assert.equal(r.body, 'b');
    }
    assert.equal(ia!.failures, 2);
  });

  it('after the cool-down the instance is half-open: one probe, and its success restores it', async () => {
    const a = new Restartable('a');
    cleanups.push(() => a.stop());
    const upstream = withSpare({ kind: 'unix', socketPath: a.socketPath }, { passive: { maxFails: 1, failTimeoutMs: 100, maxEjectionMs: 1_000 } });
    const instance = upstream.instances[0]!;
    // Nothing listens yet: the first request fails to connect and ejects the instance.
    assert.equal((await sendThrough(upstream)).outcome, 'connect_failure');
    assert.equal(instance.breakerState, 'open');
    assert.equal(upstream.select('127.0.0.1'), undefined);
    await a.start();
    // The end of the cool-down is the event: the instance becomes selectable again (half-open).
    assert.equal(await upstream.waitForInstance('127.0.0.1', 10_000), instance);
    assert.equal(instance.breakerState, 'half_open');
    const probe = await sendThrough(upstream);
    assert.equal(probe.body, 'a');
    assert.equal(instance.breakerState, 'closed');
    assert.equal(instance.isAvailable(), true);
  });

  it('a failing probe re-ejects for longer; half-open lets only one request through', async () => {
    const a = new Restartable('a');
    await a.start();
    cleanups.push(() => a.stop());
    const upstream = withSpare({ kind: 'unix', socketPath: a.socketPath }, { passive: { maxFails: 1, failTimeoutMs: 100, maxEjectionMs: 1_000 } });
    const instance = upstream.instances[0]!;
    await a.stop();
    assert.equal((await sendThrough(upstream)).outcome, 'connect_failure');
    assert.equal(instance.breakerState, 'open');
    const firstUntil = instance.ejectedUntil;

    assert.equal(await upstream.waitForInstance('1.2.3.4', 10_000), instance);
    // The probe is taken: nobody else gets the instance until it ends.
    instance.requestStarted();
    assert.equal(upstream.select('1.2.3.4'), undefined);
    const before = Date.now();
    instance.requestFinished('connect_failure');
    assert.equal(instance.breakerState, 'open');
    // The second ejection is twice the first: 200 ms from the moment of failure, compared as scheduled values.
    assert.ok(instance.ejectedUntil - before >= 200 && instance.ejectedUntil > firstUntil);
  });

  it('counts 5xx responses as failures only when count_5xx is set', async () => {
    let status = 502;
    const s: TestUpstream = await startUpstream((_req, res) => res.writeHead(status).end());
    cleanups.push(() => s.close());
    const address = { kind: 'tcp' as const, host: '127.0.0.1', port: s.port };
    const lenient = withSpare(address, { passive: { maxFails: 2, failTimeoutMs: 100 } });
    const strict = withSpare(address, { passive: { maxFails: 2, failTimeoutMs: 100, count5xx: true } });
    for (let n = 0; n < 3; n++) assert.equal((await sendThrough(lenient)).status, 502);
    assert.equal(lenient.instances[0]!.isAvailable(), true);
    for (let n = 0; n < 2; n++) assert.equal((await sendThrough(strict)).status, 502);
    assert.equal(strict.instances[0]!.breakerState, 'open');
    assert.equal(await sendThrough(strict).then((r) => r.instance), undefined);
    // Recovery: the instance answers 200 again; after the cool-down the probe closes the breaker.
    status = 200;
    await strict.waitForInstance('127.0.0.1', 10_000);
    assert.equal((await sendThrough(strict)).status, 200);
    assert.equal(strict.instances[0]!.breakerState, 'closed');
  });

  it('a restarted process (reported ready) is not held to its predecessor’s ejection', async () => {
    const a = new Restartable('a');
    cleanups.push(() => a.stop());
    const upstream = withSpare({ kind: 'unix', socketPath: a.socketPath }, { passive: { maxFails: 1, failTimeoutMs: 60_000 } });
    const instance = upstream.instances[0]!;
    assert.equal((await sendThrough(upstream)).outcome, 'connect_failure');
    assert.equal(instance.breakerState, 'open');
    instance.setProcessReady(false);
    await a.start();
    instance.setProcessReady(true);
    assert.equal(instance.breakerState, 'closed');
    assert.equal((await sendThrough(upstream)).body, 'a');
  });

  it('never ejects the only instance of an upstream (nginx’s rule): it keeps getting requests and recovers at once', async () => {
    const a = new Restartable('a');
    cleanups.push(() => a.stop());
    const upstream = new Upstream(upstreamSpec([{ kind: 'unix', socketPath: a.socketPath }], { passive: { maxFails: 1, failTimeoutMs: 60_000 } }));
    cleanups.push(() => upstream.close());
    for (let n = 0; n < 5; n++) assert.equal((await sendThrough(upstream)).outcome, 'connect_failure');
    assert.equal(upstream.instances[0]!.breakerState, 'closed');
    await a.start();
    assert.equal((await sendThrough(upstream)).body, 'a');
  });

  it('a passing active health check lifts a passive ejection at once', async () => {
    const a = new Restartable('a');
    cleanups.push(() => a.stop());
    const upstream = withSpare({ kind: 'unix', socketPath: a.socketPath }, { passive: { maxFails: 1, failTimeoutMs: 60_000 }, health: { intervalMs: 20 } });
    const instance = upstream.instances[0]!;
    assert.equal((await sendThrough(upstream)).outcome, 'connect_failure');
    assert.equal(instance.breakerState, 'open');
    await a.start();
    const checker = upstream.checkers[0]!;
    const passed = new Promise<void>((resolve) => (checker.onCheck = (result) => result.ok && resolve()));
    checker.start();
    await passed;
    assert.equal(instance.breakerState, 'closed');
    assert.equal(upstream.select('127.0.0.1'), instance);
  });
});
