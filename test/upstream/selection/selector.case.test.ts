/**
 * One contract suite run against every strategy (as Hono runs one suite against
 * every router): what any selector must do regardless of how it chooses.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Strategy } from '../../../src/config/types.js';
import { Upstream } from '../../../src/upstream/upstream.js';
import { idleAddresses, upstreamSpec } from '../fixtures.js';

const strategies: Strategy[] = ['round_robin', 'least_conn', 'random', 'ip_hash'];
const opened: Upstream[] = [];

function pool(strategy: Strategy, count: number, weights?: number[]): Upstream {
  const addresses = idleAddresses(count).map((address, i) => ({ address, weight: weights?.[i] ?? 1 }));
  const upstream = new Upstream(upstreamSpec(addresses, { strategy }));
  opened.push(upstream);
  return upstream;
}

/** Many client IPs, so ip_hash is exercised across the ring and not on one point. */
function ip(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

after(async () => {
  await Promise.all(opened.map((u) => u.close()));
});

for (const strategy of strategies) {
  describe(`selector contract: ${strategy}`, () => {
    it('returns an instance of the pool', () => {
      const upstream = pool(strategy, 3);
      for (let n = 0; n < 300; n++) assert.ok(upstream.instances.includes(upstream.select(ip(n))!));
    });

    it('reaches every instance across clients', () => {
      const upstream = pool(strategy, 3);
      const seen = new Set<unknown>();
      for (let n = 0; n < 300; n++) seen.add(upstream.select(ip(n)));
      assert.equal(seen.size, 3);
    });

    it('never returns an instance that is down, ejected or not ready', () => {
      const upstream = pool(strategy, 4);
      const [a, b, c, d] = upstream.instances;
      b!.setHealth('down');
      // Passive ejection and process readiness go through the same predicate.
      c!.setProcessReady(false);
      for (let n = 0; n < 1000; n++) {
        const chosen = upstream.select(ip(n));
        assert.ok(chosen === a || chosen === d, `picked ${chosen?.id}`);
      }
    });

    it('returns undefined when every instance is unavailable, and serves again when one returns', () => {
      const upstream = pool(strategy, 3);
      for (const instance of upstream.instances) instance.setHealth('down');
      for (let n = 0; n < 50; n++) assert.equal(upstream.select(ip(n)), undefined);
      upstream.instances[1]!.setHealth('up');
      for (let n = 0; n < 50; n++) assert.equal(upstream.select(ip(n)), upstream.instances[1]);
    });

    it('skips the excluded (already tried) instance', () => {
      const upstream = pool(strategy, 3);
      for (let n = 0; n < 300; n++) {
        const first = upstream.select(ip(n))!;
        const second = upstream.select(ip(n), first);
        assert.ok(second, 'another instance exists');
        assert.notEqual(second, first);
      }
    });

    it('skips every instance marked in the tried mask (a request retried more than once)', () => {
      const upstream = pool(strategy, 4);
      const [a, b, c, d] = upstream.instances;
      for (let n = 0; n < 200; n++) {
        const chosen = upstream.select(ip(n), a, b!.bit | d!.bit);
        assert.equal(chosen, c);
      }
      const all = upstream.instances.reduce((mask, i) => mask | i.bit, 0);
      assert.equal(upstream.select(ip(1), undefined, all), undefined);
    });

    it('tries each instance once when retrying with a growing mask', () => {
      const upstream = pool(strategy, 5);
      for (let n = 0; n < 50; n++) {
        let tried = 0;
        const order = [];
        for (let attempt = 0; attempt < 6; attempt++) {
          const chosen = upstream.select(ip(n), undefined, tried);
          if (!chosen) break;
          order.push(chosen);
          tried |= chosen.bit;
        }
        assert.equal(new Set(order).size, 5);
        assert.equal(order.length, 5);
      }
    });

    it('instances beyond the 32nd cannot be masked but stay selectable', () => {
      const upstream = pool(strategy, 34);
      assert.equal(upstream.instances[33]!.bit, 0);
      for (const i of upstream.instances.slice(0, 33)) i.setHealth('down');
      assert.equal(upstream.select(ip(7), undefined, -1), upstream.instances[33]);
    });

    it('returns undefined when the only available instance is excluded', () => {
      const upstream = pool(strategy, 2);
      upstream.instances[0]!.setHealth('down');
      assert.equal(upstream.select('10.0.0.1', upstream.instances[1]), undefined);
      const single = pool(strategy, 1);
      assert.equal(single.select('10.0.0.1', single.instances[0]), undefined);
      assert.equal(single.select('10.0.0.1'), single.instances[0]);
    });

    it('gives heavier instances more traffic', () => {
      const upstream = pool(strategy, 2, [1, 4]);
      const counts = [0, 0];
      for (let n = 0; n < 5000; n++) counts[upstream.instances.indexOf(upstream.select(ip(n))!)]!++;
      assert.ok(counts[1]! > counts[0]! * 2, `weights 1:4 gave ${counts.join(':')}`);
    });
  });
}
