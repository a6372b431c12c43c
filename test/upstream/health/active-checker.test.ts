/**
 * Active health checks against real servers whose /health answer the test
 * changes: thresholds down and up, timeouts, status ranges, Unix sockets.
 * Every wait is for the checker's next real check, never a sleep.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { Upstream } from '../../../src/upstream/upstream.js';
import type { ActiveHealthChecker, CheckResult } from '../../../src/upstream/health/active-checker.js';
import type { HealthState } from '../../../src/upstream/instance.js';
import { addressOf, captureStderr, fakeProcess, upstreamSpec, type SpecOptions } from '../fixtures.js';

/** A server whose /health answers with `status` (or never, when `hang`), counting the checks it sees. */
class Patient {
  status = 200;
  hang = false;
  checks = 0;
  userAgent: string | undefined;
  readonly hung: http.ServerResponse[] = [];
  server!: TestUpstream;

  async start(unix = false): Promise<this> {
    this.server = await startUpstream(
      (req, res) => {
        if (req.url !== '/health') return void res.end('not a check');
        this.checks++;
        this.userAgent = req.headers['user-agent'];
        if (this.hang) return void this.hung.push(res);
        res.writeHead(this.status).end();
      },
      { unix },
    );
    return this;
  }
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function checked(patient: Patient, options: SpecOptions = {}, instanceProcess = false): Promise<{ upstream: Upstream; checker: ActiveHealthChecker }> {
  const address = addressOf(patient.server);
  const upstream = new Upstream(upstreamSpec([instanceProcess ? { address, process: fakeProcess } : address], { health: {}, ...options }));
  cleanups.push(() => upstream.close(), () => patient.server.close());
  return { upstream, checker: upstream.checkers[0]! };
}

/** Resolves after the checker's next `count` real checks, with the health seen after each one. */
function nextChecks(upstream: Upstream, checker: ActiveHealthChecker, count: number): Promise<Array<{ result: CheckResult; health: HealthState }>> {
  const seen: Array<{ result: CheckResult; health: HealthState }> = [];
  return new Promise((resolve) => {
    checker.onCheck = (result) => {
      seen.push({ result, health: upstream.instances[0]!.health });
      if (seen.length === count) {
        checker.onCheck = undefined;
        resolve(seen);
      }
    };
  });
}

describe('active health checks', { timeout: 20_000 }, () => {
  it('marks a healthy instance up on its first check', async () => {
    const patient = await new Patient().start();
    const { upstream, checker } = await checked(patient);
    assert.equal(upstream.instances[0]!.health, 'unknown');
    const first = nextChecks(upstream, checker, 1);
    upstream.start();
    const [check] = await first;
    assert.equal(check!.health, 'up');
    assert.equal(check!.result.ok, true);
    assert.equal(patient.userAgent, 'warpdrive-health-check');
  });

  it('goes down after exactly unhealthy_threshold failures and back up after healthy_threshold passes, logging why', async () => {
    const patient = await new Patient().start();
    const { upstream, checker } = await checked(patient, { health: { unhealthyThreshold: 3, healthyThreshold: 2 } });
    const instance = upstream.instances[0]!;
    const { lines } = await captureStderr(async () => {
      const warm = nextChecks(upstream, checker, 1);
      upstream.start();
      await warm;
      assert.equal(instance.health, 'up');

      patient.status = 503;
      const failing = await nextChecks(upstream, checker, 4);
      // The run may start with one pass already in flight when the status flipped; skip it.
      const fails = failing.filter((c) => !c.result.ok);
      assert.deepEqual(fails.slice(0, 3).map((c) => c.health), ['up', 'up', 'down']);
      assert.equal(instance.isAvailable(), false);
      assert.equal(upstream.select('1.1.1.1'), undefined);

      patient.status = 204;
      const passing = await nextChecks(upstream, checker, 3);
      const passes = passing.filter((c) => c.result.ok);
      assert.deepEqual(passes.slice(0, 2).map((c) => c.health), ['down', 'up']);
      assert.equal(upstream.select('1.1.1.1'), instance);
    });
    const down = lines.find((l) => l.includes('[health]') && l.includes('is down'));
    assert.ok(down, `no down line in:\n${lines.join('\n')}`);
    assert.match(down, /pool#0 \(127\.0\.0\.1:\d+\) is down: 3 consecutive failed checks \(last: status 503 from GET \/health, expected 200-399\)/);
    const up = lines.find((l) => l.includes('[health]') && l.includes('is up'));
    assert.match(up ?? '', /is up: 2 consecutive passing checks \(status 204 from GET \/health\)/);
  });

  it('counts an instance that accepts but never answers as failed at the timeout', async () => {
    const patient = await new Patient().start();
    patient.hang = true;
    const { upstream, checker } = await checked(patient, { health: { timeoutMs: 100, unhealthyThreshold: 1 } });
    const first = nextChecks(upstream, checker, 1);
    upstream.start();
    const [check] = await first;
    assert.equal(check!.result.ok, false);
    assert.match(check!.result.reason, /no answer within 100 ms/);
    assert.equal(check!.health, 'down');
    for (const res of patient.hung) res.destroy();
  });

  it('counts a refused connection as failed', async () => {
    const patient = await new Patient().start();
    const { upstream, checker } = await checked(patient, { health: { unhealthyThreshold: 1 } });
    await patient.server.close();
    const first = nextChecks(upstream, checker, 1);
    upstream.start();
    const [check] = await first;
    assert.match(check!.result.reason, /ECONNREFUSED/);
    assert.equal(check!.health, 'down');
  });

  it('judges the status against the configured range', async () => {
    const patient = await new Patient().start();
    patient.status = 404;
    const strict = await checked(patient, { health: { unhealthyThreshold: 1 } });
    const strictCheck = nextChecks(strict.upstream, strict.checker, 1);
    strict.upstream.start();
    assert.equal((await strictCheck)[0]!.health, 'down');

    const lenient = await checked(patient, { health: { unhealthyThreshold: 1, expectStatusMin: 200, expectStatusMax: 404 } });
    const lenientCheck = nextChecks(lenient.upstream, lenient.checker, 1);
    lenient.upstream.start();
    assert.equal((await lenientCheck)[0]!.health, 'up');
  });

  it('checks a Unix-socket instance over its socket', async () => {
    const patient = await new Patient().start(true);
    const { upstream, checker } = await checked(patient, { health: { unhealthyThreshold: 1 } });
    const first = nextChecks(upstream, checker, 2);
    upstream.start();
    const checks = await first;
    assert.equal(checks[0]!.health, 'up');
    assert.ok(patient.checks >= 2, 'the server behind the socket saw the checks');
  });

  it('does not check an instance whose process is not ready, and checks it once it is', async () => {
    const patient = await new Patient().start();
    const { upstream, checker } = await checked(patient, {}, true);
    const instance = upstream.instances[0]!;
    upstream.start();
    assert.equal(instance.processReady, false);
    const first = nextChecks(upstream, checker, 1);
    instance.setProcessReady(true);
    const [check] = await first;
    assert.equal(check!.health, 'up');
    // Checks only counted after readiness: the server saw no check before.
    assert.equal(checker.checks, 1);
  });
});
