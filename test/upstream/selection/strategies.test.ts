/**
 * What each strategy promises beyond the shared contract: exact smooth round-robin
 * order, least-connections choices and tie-breaking, power-of-two-choices, and the
 * consistency of ip_hash when instances leave.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceAddress, Strategy } from '../../../src/config/types.js';
import type { Instance } from '../../../src/upstream/instance.js';
import { Upstream } from '../../../src/upstream/upstream.js';
import { idleAddresses, upstreamSpec } from '../fixtures.js';

const opened: Upstream[] = [];
after(async () => {
  await Promise.all(opened.map((u) => u.close()));
});

function pool(strategy: Strategy, weights: number[], addresses: InstanceAddress[] = idleAddresses(weights.length)): Upstream {
  const upstream = new Upstream(upstreamSpec(addresses.map((address, i) => ({ address, weight: weights[i]! })), { strategy }));
  opened.push(upstream);
  return upstream;
}

function names(upstream: Upstream, picks: Array<Instance | undefined>): string {
  return picks.map((p) => 'abcdefgh'[upstream.instances.indexOf(p!)]).join('');
}

function ip(n: number): string {
  return `192.168.${(n >> 8) & 255}.${n & 255}`;
}

describe('round_robin', () => {
  it('interleaves by weight the way nginx does (5,1,1 → aabacaa)', () => {
    const upstream = pool('round_robin', [5, 1, 1]);
    const picks = Array.from({ length: 14 }, () => upstream.select(''));
    assert.equal(names(upstream, picks), 'aabacaaaabacaa');
  });

  it('gives exact shares by weight over a cycle', () => {
    const upstream = pool('round_robin', [1, 2, 3]);
    const counts = [0, 0, 0];
    for (let n = 0; n < 600; n++) counts[upstream.instances.indexOf(upstream.select('')!)]!++;
    assert.deepEqual(counts, [100, 200, 300]);
  });

  it('shares a down instance’s turn among the others by their weights', () => {
    const upstream = pool('round_robin', [1, 1, 2]);
    upstream.instances[2]!.setHealth('down');
    const counts = [0, 0, 0];
    for (let n = 0; n < 100; n++) counts[upstream.instances.indexOf(upstream.select('')!)]!++;
    assert.deepEqual(counts, [50, 50, 0]);
  });
});

describe('least_conn', () => {
  it('picks the instance with the fewest in-flight requests', () => {
    const upstream = pool('least_conn', [1, 1, 1]);
    const [a, b, c] = upstream.instances;
    a!.requestStarted();
    a!.requestStarted();
    c!.requestStarted();
    for (let n = 0; n < 20; n++) assert.equal(upstream.select(''), b);
    b!.requestStarted();
    b!.requestStarted();
    for (let n = 0; n < 20; n++) assert.equal(upstream.select(''), c);
  });

  it('compares load relative to weight', () => {
    const upstream = pool('least_conn', [1, 4]);
    const [a, b] = upstream.instances;
    a!.requestStarted(); // 1 per unit of weight
    for (let n = 0; n < 3; n++) b!.requestStarted(); // 0.75 per unit of weight
    assert.equal(upstream.select(''), b);
    b!.requestStarted(); // 1.0: a tie, broken by weight
    b!.requestStarted(); // 1.25
    assert.equal(upstream.select(''), a);
  });

  it('breaks ties fairly: idle instances share traffic by weight, not first-listed-wins', () => {
    const upstream = pool('least_conn', [1, 1, 2]);
    const counts = [0, 0, 0];
    for (let n = 0; n < 400; n++) counts[upstream.instances.indexOf(upstream.select('')!)]!++;
    assert.deepEqual(counts, [100, 100, 200]);
  });

  it('spreads concurrent requests evenly', () => {
    const upstream = pool('least_conn', [1, 1, 1]);
    const held: Instance[] = [];
    for (let n = 0; n < 30; n++) {
      const chosen = upstream.select('')!;
      chosen.requestStarted();
      held.push(chosen);
    }
    assert.deepEqual(upstream.instances.map((i) => i.inFlight), [10, 10, 10]);
    for (const i of held) i.requestFinished('success');
  });
});

describe('random (power of two choices)', () => {
  it('follows the weights within a tolerance', () => {
    const upstream = pool('random', [1, 2, 3]);
    const total = 30_000;
    const counts = [0, 0, 0];
    for (let n = 0; n < total; n++) counts[upstream.instances.indexOf(upstream.select('')!)]!++;
    // Expected 1/6, 2/6, 3/6; the standard deviation at 30k draws is under 0.3 %, so 2 % is a wide margin.
    [1 / 6, 2 / 6, 3 / 6].forEach((share, i) => assert.ok(Math.abs(counts[i]! / total - share) < 0.02, `shares ${counts.join(':')}`));
  });

  it('of its two choices takes the less loaded one', () => {
    const upstream = pool('random', [1, 1]);
    const [a, b] = upstream.instances;
    a!.requestStarted();
    // With two instances both are always drawn, so the idle one must always win.
    for (let n = 0; n < 200; n++) assert.equal(upstream.select(''), b);
  });

  it('keeps concurrent load balanced under random draws', () => {
    const upstream = pool('random', [1, 1, 1, 1]);
    const held: Instance[] = [];
    for (let n = 0; n < 400; n++) {
      const chosen = upstream.select('')!;
      chosen.requestStarted();
      held.push(chosen);
    }
    const loads = upstream.instances.map((i) => i.inFlight);
    // Plain random would drift by tens; two choices keep the spread within a few requests.
    assert.ok(Math.max(...loads) - Math.min(...loads) <= 8, `loads ${loads.join(',')}`);
    for (const i of held) i.requestFinished('success');
  });
});

describe('ip_hash (consistent hashing)', () => {
  const clients = Array.from({ length: 6000 }, (_, n) => ip(n));

  function assignments(upstream: Upstream): string[] {
    return clients.map((c) => upstream.select(c)!.address);
  }

  it('is sticky: a client always gets the same instance', () => {
    const upstream = pool('ip_hash', [1, 1, 1]);
    for (const client of clients.slice(0, 200)) {
      const first = upstream.select(client);
      for (let n = 0; n < 20; n++) assert.equal(upstream.select(client), first);
    }
  });

  it('spreads clients by weight within a tolerance', () => {
    const upstream = pool('ip_hash', [1, 1, 2]);
    const counts = new Map<string, number>();
    for (const a of assignments(upstream)) counts.set(a, (counts.get(a) ?? 0) + 1);
    const shares = upstream.instances.map((i) => (counts.get(i.address) ?? 0) / clients.length);
    // 160 virtual nodes per instance keep each share within a few percent of its weight.
    [0.25, 0.25, 0.5].forEach((share, i) => assert.ok(Math.abs(shares[i]! - share) < 0.06, `shares ${shares.map((s) => s.toFixed(3)).join(':')}`));
  });

  it('when an instance goes down, only its clients move, and they spread over the others', () => {
    const upstream = pool('ip_hash', [1, 1, 1, 1]);
    const before = assignments(upstream);
    const leaving = upstream.instances[1]!;
    leaving.setHealth('down');
    const afterDown = assignments(upstream);
    const movedTo = new Set<string>();
    let moved = 0;
    clients.forEach((_, n) => {
      if (before[n] === leaving.address) {
        assert.notEqual(afterDown[n], leaving.address);
        movedTo.add(afterDown[n]!);
        moved++;
      } else {
        assert.equal(afterDown[n], before[n], 'a client of a surviving instance moved');
      }
    });
    // About a quarter of the clients moved (those of the one instance), not most of them as with modulo hashing.
    assert.ok(moved > clients.length * 0.15 && moved < clients.length * 0.35, `${moved} moved`);
    assert.equal(movedTo.size, 3, 'the orphaned clients spread over all three survivors');
    // And when it returns, everyone is back where they were.
    leaving.setHealth('up');
    assert.deepEqual(assignments(upstream), before);
  });

  it('keeps survivors’ clients when an instance is removed from the config (ring keyed by address)', () => {
    const addresses = idleAddresses(4);
    const full = pool('ip_hash', [1, 1, 1, 1], addresses);
    const reduced = pool('ip_hash', [1, 1, 1], [addresses[0]!, addresses[2]!, addresses[3]!]);
    const before = assignments(full);
    const after = assignments(reduced);
    let kept = 0;
    clients.forEach((_, n) => {
      if (before[n] !== full.instances[1]!.address) {
        assert.equal(after[n], before[n]);
        kept++;
      }
    });
    assert.ok(kept > clients.length * 0.6);
  });

  it('sends the retry of a client to the next instance on the ring, consistently', () => {
    const upstream = pool('ip_hash', [1, 1, 1]);
    for (const client of clients.slice(0, 100)) {
      const first = upstream.select(client)!;
      const retry = upstream.select(client, first);
      assert.notEqual(retry, first);
      assert.equal(upstream.select(client, first), retry);
    }
  });
});
