/**
 * select() must not allocate per request (the hot-path rule). Measured the way
 * it would show up in production: garbage collections during a long run of
 * selections. An allocation of even 16 bytes per call would be 32 MB over 2 M
 * calls, i.e. dozens of young-generation collections; at most two stray ones
 * (left over from the warm-up) are allowed.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import type { Strategy } from '../../../src/config/types.js';
import { Upstream } from '../../../src/upstream/upstream.js';
import { idleAddresses, upstreamSpec } from '../fixtures.js';

const opened: Upstream[] = [];
after(async () => {
  await Promise.all(opened.map((u) => u.close()));
});

/** Garbage collections while `run` ran, from V8's GC profiler (synchronous, unlike PerformanceObserver's queued entries). */
function collectionsDuring(run: () => void): number {
  const profiler = new v8.GCProfiler();
  profiler.start();
  run();
  return profiler.stop().statistics.length;
}

const clientIps = Array.from({ length: 256 }, (_, n) => `198.18.0.${n}`);

for (const strategy of ['round_robin', 'least_conn', 'random', 'ip_hash'] as Strategy[]) {
  describe(`select() allocation: ${strategy}`, () => {
    it('runs 2 M selections (one instance down, with exclusions) without garbage collection', () => {
      const upstream = new Upstream(upstreamSpec(idleAddresses(4).map((address, i) => ({ address, weight: 1 + (i % 2) })), { strategy }));
      opened.push(upstream);
      upstream.instances[1]!.setHealth('down');
      const [first] = upstream.instances;
      let sink = 0;
      const loop = (count: number) => {
        for (let n = 0; n < count; n++) if (upstream.select(clientIps[n & 255]!, n & 1 ? first : undefined, n & 2) !== undefined) sink++;
      };
      loop(300_000); // warm-up: let the optimising compiler settle first
      const collections = collectionsDuring(() => loop(2_000_000));
      assert.ok(sink > 0);
      assert.ok(collections <= 2, `${collections} garbage collections during 2 M selections`);
    });
  });
}
