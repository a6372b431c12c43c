/**
 * The passive-health state machine on its own, on node:test's mock clock so
 * cool-downs are stepped through exactly instead of waited for.
 */
import { describe, it, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, type BreakerState } from '../../../src/upstream/health/circuit-breaker.js';
import type { PassiveHealthSpec } from '../../../src/config/types.js';

const spec: PassiveHealthSpec = { maxFails: 3, failTimeoutMs: 1_000, maxEjectionMs: 8_000, count5xx: false };

function breaker(overrides: Partial<PassiveHealthSpec> = {}): { b: CircuitBreaker; changes: Array<{ state: BreakerState; reason: string }> } {
  const changes: Array<{ state: BreakerState; reason: string }> = [];
  const b = new CircuitBreaker({ ...spec, ...overrides }, (state, reason) => changes.push({ state, reason }));
  return { b, changes };
}

function fail(b: CircuitBreaker, times: number): void {
  for (let n = 0; n < times; n++) {
    b.onRequestStarted();
    b.onRequestFinished(true, 'connect_failure');
  }
}

/** Ejection length as scheduled: ejectedUntil minus the (mocked) clock. */
function ejectionMs(b: CircuitBreaker): number {
  return b.ejectedUntil - Date.now();
}

describe('circuit breaker', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('ejects after maxFails consecutive failures, not before', () => {
    const { b, changes } = breaker();
    fail(b, 2);
    assert.equal(b.state, 'closed');
    assert.ok(b.allowsRequest());
    fail(b, 1);
    assert.equal(b.state, 'open');
    assert.equal(b.allowsRequest(), false);
    assert.equal(ejectionMs(b), 1_000);
    assert.match(changes[0]!.reason, /3 consecutive failures \(last: connect_failure\); ejected for 1000 ms/);
  });

  it('a success in between resets the count', () => {
    const { b } = breaker();
    fail(b, 2);
    b.onRequestFinished(false, 'success');
    fail(b, 2);
    assert.equal(b.state, 'closed');
  });

  it('maxFails = 0 never ejects', () => {
    const { b } = breaker({ maxFails: 0 });
    fail(b, 100);
    assert.equal(b.state, 'closed');
  });

  it('after the cool-down lets exactly one probe through; its success closes the breaker', () => {
    const { b } = breaker();
    fail(b, 3);
    mock.timers.tick(999);
    assert.equal(b.state, 'open');
    mock.timers.tick(1);
    assert.equal(b.state, 'half_open');
    assert.ok(b.allowsRequest());
    b.onRequestStarted();
    assert.equal(b.allowsRequest(), false, 'a second request must wait for the probe');
    b.onRequestFinished(false, 'success');
    assert.equal(b.state, 'closed');
    assert.ok(b.allowsRequest());
    assert.equal(b.ejectedUntil, 0);
  });

  it('a failed probe re-ejects for twice as long, doubling up to maxEjectionMs', () => {
    const { b } = breaker();
    fail(b, 3);
    const lengths = [ejectionMs(b)];
    for (let n = 0; n < 5; n++) {
      mock.timers.tick(ejectionMs(b));
      assert.equal(b.state, 'half_open');
      fail(b, 1);
      assert.equal(b.state, 'open');
      lengths.push(ejectionMs(b));
    }
    assert.deepEqual(lengths, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('a cancelled probe frees the probe slot for the next request', () => {
    const { b } = breaker();
    fail(b, 3);
    mock.timers.tick(1_000);
    b.onRequestStarted();
    assert.equal(b.allowsRequest(), false);
    b.onRequestCancelled();
    assert.ok(b.allowsRequest());
    assert.equal(b.state, 'half_open');
  });

  it('the doubling resets after a stable period as long as maxEjectionMs', () => {
    const { b } = breaker();
    fail(b, 3);
    mock.timers.tick(1_000);
    fail(b, 1); // probe fails: 2 s
    mock.timers.tick(2_000);
    b.onRequestStarted();
    b.onRequestFinished(false, 'success');
    // Failing again soon continues the doubling...
    mock.timers.tick(100);
    fail(b, 3);
    assert.equal(ejectionMs(b), 4_000);
    mock.timers.tick(4_000);
    b.onRequestStarted();
    b.onRequestFinished(false, 'success');
    // ...but after a stable stretch it starts from failTimeoutMs again.
    mock.timers.tick(8_000);
    fail(b, 3);
    assert.equal(ejectionMs(b), 1_000);
  });

  it('late failures of requests sent before the ejection do not extend it', () => {
    const { b } = breaker();
    for (let n = 0; n < 5; n++) b.onRequestStarted();
    for (let n = 0; n < 5; n++) b.onRequestFinished(true, 'reset');
    assert.equal(b.state, 'open');
    assert.equal(ejectionMs(b), 1_000);
  });

  it('reset() closes an open breaker at once', () => {
    const { b, changes } = breaker();
    fail(b, 3);
    b.reset('process reported ready');
    assert.equal(b.state, 'closed');
    assert.equal(b.consecutiveFailures, 0);
    assert.equal(changes.at(-1)!.reason, 'process reported ready');
    // The cancelled cool-down timer must not reopen anything later.
    mock.timers.tick(10_000);
    assert.equal(b.state, 'closed');
  });
});
