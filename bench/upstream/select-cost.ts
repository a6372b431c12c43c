/**
 * Micro-benchmark: the cost of one `Upstream.select()` per strategy, beside a
 * baseline that returns a fixed instance, for pools of 3 and 16 instances, with
 * every instance up and with one down (the walk-around path of each strategy).
 *
 * No sockets are opened: undici Pools connect lazily and nothing is dispatched.
 *
 *   npx tsc -p . --outDir .build/upstream && node .build/upstream/bench/upstream/select-cost.js [iterations]
 *
 * Figures are only comparable on a quiet machine; the output says how many
 * iterations and rounds it ran so a reader can judge.
 *
 * @module
 */
import type { InstanceSpec, Strategy, UpstreamSpec } from '../../src/config/types.js';
import { Upstream } from '../../src/upstream/upstream.js';

const strategies: Strategy[] = ['round_robin', 'least_conn', 'random', 'ip_hash'];
const iterations = Number(process.argv[2] ?? 2_000_000);
const rounds = 5;

function spec(strategy: Strategy, count: number): UpstreamSpec {
  const instances: InstanceSpec[] = Array.from({ length: count }, (_, i) => ({
    id: `bench#${i}`,
    address: { kind: 'tcp', host: '127.0.0.1', port: 20_000 + i },
    weight: 1 + (i % 3),
    process: undefined,
  }));
  return {
    name: 'bench',
    strategy,
    instances,
    health: undefined,
    passive: { maxFails: 0, failTimeoutMs: 1_000, maxEjectionMs: 1_000, count5xx: false },
    process: undefined,
    connectTimeoutMs: 1_000,
    readTimeoutMs: 1_000,
    maxConnectionsPerInstance: 1,
    keepAliveTimeoutMs: 1_000,
    retries: 0,
  };
}

/** 256 distinct client IPs, built before timing so the loop does not build strings. */
const clientIps = Array.from({ length: 256 }, (_, n) => `203.0.113.${n}`);

/** Median ns per call of `fn` over several rounds (the median shrugs off a GC pause or a neighbour's burst). */
function measure(fn: (ip: string) => unknown): number {
  let sink = 0;
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let n = 0; n < iterations; n++) if (fn(clientIps[n & 255]!) !== undefined) sink++;
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  if (sink === -1) console.log('unreachable'); // keeps the results observable so the loop is not optimised away
  samples.sort((a, b) => a - b);
  return samples[Math.floor(rounds / 2)]!;
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const count of [3, 16]) {
    const baseline = new Upstream(spec('round_robin', count));
    const fixed = baseline.instances[0]!;
    rows.push(`${String(count).padStart(2)} instances  baseline (fixed instance)   ${measure(() => fixed).toFixed(1).padStart(6)} ns`);
    await baseline.close();
    for (const strategy of strategies) {
      const upstream = new Upstream(spec(strategy, count));
      const allUp = measure((ip) => upstream.select(ip));
      upstream.instances[1]!.setHealth('down');
      const oneDown = measure((ip) => upstream.select(ip));
      rows.push(`${String(count).padStart(2)} instances  ${strategy.padEnd(12)} all up ${allUp.toFixed(1).padStart(6)} ns   one down ${oneDown.toFixed(1).padStart(6)} ns`);
      await upstream.close();
    }
  }
  console.log(`select() cost, median of ${rounds} rounds of ${iterations} calls, node ${process.version}`);
  for (const row of rows) console.log(row);
}

await main();
