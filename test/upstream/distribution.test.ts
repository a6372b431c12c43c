/**
 * Each strategy with real servers and real requests through the instances'
 * dispatchers: who actually received how many requests.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Strategy } from '../../src/config/types.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { addressOf, sendThrough, upstreamSpec } from './fixtures.js';

const servers: TestUpstream[] = [];
const hits = [0, 0, 0];
const opened: Upstream[] = [];

before(async () => {
  for (let n = 0; n < 3; n++) {
    // Two over TCP, one over a Unix socket: a pool may mix them.
    servers.push(
      await startUpstream(
        (_req, res) => {
          hits[n]!++;
          res.end(String(n));
        },
        { unix: n === 2 },
      ),
    );
  }
});
after(async () => {
  await Promise.all(opened.map((u) => u.close()));
  await Promise.all(servers.map((s) => s.close()));
});

function pool(strategy: Strategy, weights: number[]): Upstream {
  hits.fill(0);
  const upstream = new Upstream(upstreamSpec(servers.map((s, i) => ({ address: addressOf(s), weight: weights[i]! })), { strategy }));
  opened.push(upstream);
  return upstream;
}

function ip(n: number): string {
  return `172.16.${(n >> 8) & 255}.${n & 255}`;
}

describe('distribution over real servers', { timeout: 30_000 }, () => {
  it('round_robin: exact shares by weight (1:2:3)', async () => {
    const upstream = pool('round_robin', [1, 2, 3]);
    for (let n = 0; n < 600; n++) await sendThrough(upstream);
    assert.deepEqual(hits, [100, 200, 300]);
  });

  it('least_conn, sequential (all ties): exact shares by weight', async () => {
    const upstream = pool('least_conn', [1, 2, 3]);
    for (let n = 0; n < 600; n++) await sendThrough(upstream);
    assert.deepEqual(hits, [100, 200, 300]);
  });

  it('least_conn, concurrent: every server busy, none starved', async () => {
    const upstream = pool('least_conn', [1, 1, 1]);
    const batches = 20;
    for (let b = 0; b < batches; b++) await Promise.all(Array.from({ length: 30 }, () => sendThrough(upstream)));
    // Each batch of 30 is dealt 10/10/10 because every pick sees the others' in-flight counts.
    assert.deepEqual(hits, [200, 200, 200]);
  });

  it('random: shares by weight within 5 %', async () => {
    const upstream = pool('random', [1, 1, 2]);
    const total = 2000;
    for (let n = 0; n < total; n++) await sendThrough(upstream);
    [0.25, 0.25, 0.5].forEach((share, i) => assert.ok(Math.abs(hits[i]! / total - share) < 0.05, `hits ${hits.join(':')}`));
  });

  it('ip_hash: each client always reaches the same server; clients spread over all', async () => {
    const upstream = pool('ip_hash', [1, 1, 1]);
    const firstServer = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < 150; n++) {
        const r = await sendThrough(upstream, ip(n));
        const seen = firstServer.get(ip(n));
        if (seen === undefined) firstServer.set(ip(n), r.body!);
        else assert.equal(r.body, seen, `client ${ip(n)} moved`);
      }
    }
    assert.ok(hits.every((h) => h > 0), `hits ${hits.join(':')}`);
  });
});
