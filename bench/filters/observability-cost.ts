/**
 * Micro-benchmark: what the observability work adds to one proxied request, per
 * piece, in nanoseconds of CPU: the metrics filter's `done` (on with `[admin]`),
 * the error log's `done` for a success (always on), the X-Request-Id filter
 * (on by default), and the two clock reads that time the upstream. Each is run on
 * a real Exchange and the real filter objects, in a loop, against an empty loop
 * doing the same bookkeeping (reset of the header list), whose cost is subtracted.
 *
 *   npx tsc -p . --outDir .build/obs && node .build/obs/bench/filters/observability-cost.js [iterations]
 *
 * CPU time (process.cpuUsage) is reported beside wall time: on a busy machine the
 * CPU time is what this process itself spent, the figure to compare with the CPU
 * per request the bench harness reports (docs/bench.md).
 *
 * @module
 */
import type { HttpResponse } from 'uWebSockets.js';
import { parseConfig } from '../../src/config/index.js';
import { ErrorLogFilter } from '../../src/filters/error-log.js';
import { ThreadServices } from '../../src/filters/index.js';
import { MetricsFilter } from '../../src/filters/metrics.js';
import { RequestIdFilter } from '../../src/filters/request-id.js';
import { Exchange, type ExchangeOwner } from '../../src/pipeline/exchange.js';
import { Generation } from '../../src/runtime/generation.js';

const iterations = Number(process.argv[2] ?? 2_000_000);
const rounds = 5;

const services = new ThreadServices(0);
const plan = parseConfig('[admin]\nlisten = "127.0.0.1:0"\n[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n', 'bench.toml');
const generation = Generation.build(plan, services);
const owner: ExchangeOwner = { draining: false, proceed() {}, resumeFilters() {}, exchangeFinished() {} };
/** The least of uWS's response the Exchange's constructor touches. */
const res = { onAborted() {}, getRemoteAddressAsText: () => new ArrayBuffer(0) } as unknown as HttpResponse;
const x = new Exchange(owner, generation, res, 0);
x.method = 'GET';
x.route = generation.routes[0];
x.clientIp = '127.0.0.1';
// A finished 200 from an upstream, as done() sees most requests.
(x.sink as unknown as { status: number }).status = 200;
x.upstreamStartedAt = performance.now();
x.upstreamEndedAt = x.upstreamStartedAt + 0.4;

const metrics = new MetricsFilter(services.metrics.forRoute(plan.routes[0]!));
const errorLog = new ErrorLogFilter(services.errorLog);
const requestId = new RequestIdFilter(generation.settings.trusted, services.requestIds);
const baseHeaders = ['host', 'shop.example', 'user-agent', 'bench', 'accept', '*/*', 'x-forwarded-for', '127.0.0.1'];
const headers: string[] = [];

function resetHeaders(): void {
  headers.length = 0;
  for (let i = 0; i < baseHeaders.length; i++) headers.push(baseHeaders[i]!);
}

/** Median wall and CPU ns per call over several rounds. */
function measure(fn: () => void): { wallNs: number; cpuNs: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const startCpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let n = 0; n < iterations; n++) fn();
    wall.push(Number(process.hrtime.bigint() - start) / iterations);
    const used = process.cpuUsage(startCpu);
    cpu.push(((used.user + used.system) * 1000) / iterations);
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wallNs: median(wall), cpuNs: median(cpu) };
}

let clock = 0;
const cases: Array<[name: string, fn: () => void, baseline?: () => void]> = [
  ['metrics done (counters, 2 histograms)', () => metrics.done(x)],
  ['error log done (a success)', () => errorLog.done(x)],
  ['X-Request-Id (generate, replace, push)', () => {
    resetHeaders();
    requestId.upstreamRequest(x, headers);
  }, resetHeaders],
  ['upstream timing (2 performance.now)', () => {
    clock += performance.now();
    clock -= performance.now();
  }],
];

console.log(`observability cost per request: ${iterations.toLocaleString('en')} iterations x ${rounds} rounds, median; Node ${process.version}`);
let totalCpu = 0;
for (const [name, fn, baseline] of cases) {
  for (let n = 0; n < 100_000; n++) fn(); // warm up the JIT
  const measured = measure(fn);
  const base = baseline === undefined ? { wallNs: 0, cpuNs: 0 } : measure(baseline);
  const wall = Math.max(0, measured.wallNs - base.wallNs);
  const cpu = Math.max(0, measured.cpuNs - base.cpuNs);
  totalCpu += cpu;
  console.log(`  ${name.padEnd(42)} ${wall.toFixed(1).padStart(7)} ns wall  ${cpu.toFixed(1).padStart(7)} ns cpu`);
}
console.log(`  ${'total'.padEnd(42)} ${''.padStart(7)}            ${totalCpu.toFixed(1).padStart(7)} ns cpu`);
if (clock === Number.MIN_VALUE) console.log('unreachable'); // keeps the clock reads observable
await Promise.all([...generation.upstreams.values()].map((u) => u.close()));
