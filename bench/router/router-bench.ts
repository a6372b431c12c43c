/**
 * Router benchmark: route selection time per request, compiled router beside the
 * in-order scan, for tables of 10 to 10,000 routes and for paths of growing length.
 *
 *   npx tsc -p . && node dist/bench/router/router-bench.js [--quick] [--out bench/results]
 *
 * Method: every request of a pre-built, shuffled mix goes through `match()`. Time
 * is read with process.hrtime.bigint around batches of BATCH consecutive requests
 * (one request is too short for the clock); a sample is the batch time minus the
 * timer's own cost, divided by BATCH. Median and p99 are over those samples, after
 * a warm-up that lets V8 optimise. The two routers must agree on every request of
 * the mix before anything is timed.
 *
 * Not a timed test: it asserts nothing about speed, it records figures.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CompiledRouter } from '../../src/router/compiled-router.js';
import { normalizePath } from '../../src/router/normalize-path.js';
import { ScanRouter } from '../../src/router/scan-router.js';
import type { Router } from '../../src/router/types.js';
import { buildDeepRequests, buildRequestMix, buildRouteTable, type BenchRequest, type BenchRoute } from './route-tables.js';

const quick = process.argv.includes('--quick');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex >= 0 ? process.argv[outIndex + 1]! : 'bench/results';

const BATCH = 32;
const WARMUP_MS = quick ? 150 : 600;
const MEASURE_MS = quick ? 300 : 2000;
const MAX_SAMPLES = 200_000;
/** Power of two so the request cursor wraps with a mask. */
const MIX_SIZE = 8192;

interface Figures {
  medianNs: number;
  p99Ns: number;
  meanNs: number;
  samples: number;
  /** Whole-machine CPU busy % during the measurement, this benchmark included (one core = 100 / nproc). */
  machineBusyPercent: number;
}

/** [total, idle] jiffies from /proc/stat's first line; zeros where there is no /proc. */
function cpuTimes(): [number, number] {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return [fields.reduce((a, b) => a + b, 0), (fields[3] ?? 0) + (fields[4] ?? 0)];
  } catch {
    return [0, 0];
  }
}

/** Sink for results so the JIT cannot drop the calls. */
let sink = 0;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/**
 * Cost of reading the clock twice around an empty batch loop, in ns: the 10th
 * percentile, because other work on a shared machine only ever adds time, and an
 * inflated overhead would be subtracted from every sample.
 */
function timerOverheadNs(requests: readonly BenchRequest[]): number {
  const samples = new Float64Array(20_000);
  const mask = requests.length - 1;
  let cursor = 0;
  for (let n = 0; n < samples.length; n++) {
    const t0 = process.hrtime.bigint();
    for (let b = 0; b < BATCH; b++) {
      sink += requests[cursor]!.path.length;
      cursor = (cursor + 1) & mask;
    }
    samples[n] = Number(process.hrtime.bigint() - t0);
  }
  samples.sort();
  return percentile(samples, 0.1);
}

function measure(router: Router<BenchRoute>, requests: readonly BenchRequest[], overheadNs: number): Figures {
  const mask = requests.length - 1;
  let cursor = 0;
  const warmupEnd = process.hrtime.bigint() + BigInt(WARMUP_MS) * 1_000_000n;
  while (process.hrtime.bigint() < warmupEnd) {
    for (let b = 0; b < 256; b++) {
      const request = requests[cursor]!;
      cursor = (cursor + 1) & mask;
      sink += router.match(request.method, request.host, request.path, request.headers)?.index ?? -1;
    }
  }
  const samples = new Float64Array(MAX_SAMPLES);
  const cpuBefore = cpuTimes();
  let count = 0;
  let totalNs = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(MEASURE_MS) * 1_000_000n;
  let now = start;
  while (count < MAX_SAMPLES && now < end) {
    const t0 = process.hrtime.bigint();
    for (let b = 0; b < BATCH; b++) {
      const request = requests[cursor]!;
      cursor = (cursor + 1) & mask;
      sink += router.match(request.method, request.host, request.path, request.headers)?.index ?? -1;
    }
    now = process.hrtime.bigint();
    const batchNs = Number(now - t0);
    totalNs += batchNs;
    samples[count++] = Math.max(0, batchNs - overheadNs) / BATCH;
  }
  const cpuAfter = cpuTimes();
  const totalJiffies = cpuAfter[0] - cpuBefore[0];
  const sorted = samples.subarray(0, count).sort();
  return {
    machineBusyPercent: totalJiffies > 0 ? Math.round(100 * (1 - (cpuAfter[1] - cpuBefore[1]) / totalJiffies)) : -1,
    medianNs: percentile(sorted, 0.5),
    p99Ns: percentile(sorted, 0.99),
    meanNs: (totalNs - overheadNs * count) / (count * BATCH),
    samples: count,
  };
}

function assertAgreement(a: Router<BenchRoute>, b: Router<BenchRoute>, requests: readonly BenchRequest[]): void {
  for (const r of requests) {
    const x = a.match(r.method, r.host, r.path, r.headers);
    const y = b.match(r.method, r.host, r.path, r.headers);
    if (x !== y) throw new Error(`routers disagree on ${r.method} ${r.host}${r.path}: ${x?.name} vs ${y?.name}`);
  }
}

function machineInfo() {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // nproc missing: keep Node's count
  }
  return { nproc, cpuModel, node: process.version, platform: `${os.type()} ${os.release()}`, totalMemMb: Math.round(os.totalmem() / 2 ** 20) };
}

const fmt = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);

interface SizeRow {
  routes: number;
  tenants: number;
  wildcards: number;
  buildMs: number;
  compiled: Figures;
  scan: Figures;
}

interface DepthRow {
  segments: number;
  pathLength: number;
  compiled: Figures;
  scan: Figures;
}

function main(): void {
  const loadBefore = os.loadavg();
  const startedAt = new Date();
  const sizeRows: SizeRow[] = [];
  let overheadNs = 0;
  for (const size of [10, 100, 1_000, 10_000]) {
    const { routes, tenants, wildcards } = buildRouteTable(size);
    const requests = buildRequestMix(MIX_SIZE, tenants, wildcards);
    const t0 = process.hrtime.bigint();
    const compiled = new CompiledRouter(routes);
    const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const scan = new ScanRouter(routes);
    assertAgreement(compiled, scan, requests);
    overheadNs = timerOverheadNs(requests);
    const row: SizeRow = { routes: size, tenants, wildcards, buildMs, compiled: measure(compiled, requests, overheadNs), scan: measure(scan, requests, overheadNs) };
    sizeRows.push(row);
    console.log(`${size} routes: compiled median ${fmt(row.compiled.medianNs)} p99 ${fmt(row.compiled.p99Ns)} | scan median ${fmt(row.scan.medianNs)} p99 ${fmt(row.scan.p99Ns)} | build ${buildMs.toFixed(1)} ms`);
  }

  // Same 10,000-route table, traffic concentrated on 10 tenants: separates the
  // cost of the lookup from the cost of touching ~1,000 hosts' trees (cache misses).
  const hotSet = (() => {
    const { routes, wildcards } = buildRouteTable(10_000);
    const requests = buildRequestMix(MIX_SIZE, 10, Math.min(wildcards, 1));
    const compiled = new CompiledRouter(routes);
    const scan = new ScanRouter(routes);
    assertAgreement(compiled, scan, requests);
    const row = { routes: 10_000, tenantsRequested: 10, compiled: measure(compiled, requests, overheadNs), scan: measure(scan, requests, overheadNs) };
    console.log(`10000 routes, traffic to 10 tenants: compiled median ${fmt(row.compiled.medianNs)} p99 ${fmt(row.compiled.p99Ns)} | scan median ${fmt(row.scan.medianNs)}`);
    return row;
  })();

  const depthRows: DepthRow[] = [];
  const { routes, tenants } = buildRouteTable(1_000);
  const compiled = new CompiledRouter(routes);
  const scan = new ScanRouter(routes);
  for (const segments of [1, 4, 16, 64]) {
    const requests = buildDeepRequests(MIX_SIZE, segments, tenants);
    assertAgreement(compiled, scan, requests);
    const row: DepthRow = {
      segments,
      pathLength: Math.round(requests.reduce((sum, r) => sum + r.path.length, 0) / requests.length),
      compiled: measure(compiled, requests, overheadNs),
      scan: measure(scan, requests, overheadNs),
    };
    depthRows.push(row);
    console.log(`1000 routes, ${segments} extra segments (~${row.pathLength} chars): compiled median ${fmt(row.compiled.medianNs)} | scan median ${fmt(row.scan.medianNs)}`);
  }

  const normalisation = measureNormalisation();
  const loadAfter = os.loadavg();
  const machine = machineInfo();
  const result = { startedAt: startedAt.toISOString(), quick, batch: BATCH, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, timerOverheadNs: overheadNs, machine, loadBefore, loadAfter, sizes: sizeRows, hotSet, pathLength: depthRows, normalisation, sink };
  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `router-${startedAt.toISOString().slice(0, 10)}`);
  writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(`${base}.md`, renderMarkdown(result));
  console.log(`wrote ${base}.md and ${base}.json`);
}

interface NormalisationFigures {
  canonicalMedianNs: number;
  rewriteMedianNs: number;
}

/** normalizePath on a canonical path (the no-allocation fast scan) and on one that needs rewriting. */
function measureNormalisation(): NormalisationFigures {
  const timeOf = (input: string): number => {
    const samples = new Float64Array(20_000);
    for (let w = 0; w < 200_000; w++) sink += normalizePath(input)?.length ?? 0;
    for (let n = 0; n < samples.length; n++) {
      const t0 = process.hrtime.bigint();
      for (let b = 0; b < BATCH; b++) sink += normalizePath(input)?.length ?? 0;
      samples[n] = Number(process.hrtime.bigint() - t0) / BATCH;
    }
    samples.sort();
    return percentile(samples, 0.5);
  };
  return {
    canonicalMedianNs: timeOf('/api/v1/users/1234/orders'),
    rewriteMedianNs: timeOf('/public/../api/v1/%75sers//1234/orders'),
  };
}

function renderMarkdown(result: {
  startedAt: string;
  quick: boolean;
  timerOverheadNs: number;
  machine: ReturnType<typeof machineInfo>;
  loadBefore: number[];
  loadAfter: number[];
  sizes: SizeRow[];
  hotSet: { routes: number; tenantsRequested: number; compiled: Figures; scan: Figures };
  pathLength: DepthRow[];
  normalisation: NormalisationFigures;
}): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    `# Router benchmark, ${result.startedAt}`,
    '',
    `Machine: ${result.machine.cpuModel}, nproc ${result.machine.nproc}, ${result.machine.totalMemMb} MB, ${result.machine.platform}, Node ${result.machine.node}.`,
    `Load average (1/5/15 min) before: ${load(result.loadBefore)}, after: ${load(result.loadAfter)}.${result.quick ? ' Quick run (short warm-up and measurement): indicative only.' : ''}`,
    '',
    `Machine busy % is the whole machine's CPU use during each measurement, this benchmark's own core included (about ${Math.round(100 / Number(result.machine.nproc))}% on this machine): anything well above that was other people's work, and those rows are noisy.`,
    '',
    `Per-request selection time: samples are batches of ${BATCH} consecutive requests from a shuffled mix of ${MIX_SIZE}, timed with process.hrtime.bigint, timer cost (${result.timerOverheadNs} ns per batch) subtracted, divided by ${BATCH}. p99 is thus the 99th percentile of ${BATCH}-request means, not of single requests.`,
    '',
    '## By table size (realistic mix)',
    '',
    '| routes | tenants | wildcard blocks | build | compiled median | compiled p99 | compiled mean | scan median | scan p99 | scan mean | machine busy (compiled / scan) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...result.sizes.map(
      (r) =>
        `| ${r.routes} | ${r.tenants} | ${r.wildcards} | ${r.buildMs.toFixed(1)} ms | ${fmt(r.compiled.medianNs)} | ${fmt(r.compiled.p99Ns)} | ${fmt(r.compiled.meanNs)} | ${fmt(r.scan.medianNs)} | ${fmt(r.scan.p99Ns)} | ${fmt(r.scan.meanNs)} | ${r.compiled.machineBusyPercent}% / ${r.scan.machineBusyPercent}% |`,
    ),
    '',
    `Same ${result.hotSet.routes} routes, traffic to ${result.hotSet.tenantsRequested} tenants only (tests whether growth comes from the lookup or from touching many hosts' trees): compiled median ${fmt(result.hotSet.compiled.medianNs)}, p99 ${fmt(result.hotSet.compiled.p99Ns)}; scan median ${fmt(result.hotSet.scan.medianNs)}.`,
    '',
    '## By path length (1,000 routes, paths `/api/v1/` + N segments)',
    '',
    '| segments | mean path length | compiled median | compiled p99 | scan median | machine busy (compiled / scan) |',
    '|---:|---:|---:|---:|---:|---:|',
    ...result.pathLength.map((r) => `| ${r.segments} | ${r.pathLength} | ${fmt(r.compiled.medianNs)} | ${fmt(r.compiled.p99Ns)} | ${fmt(r.scan.medianNs)} | ${r.compiled.machineBusyPercent}% / ${r.scan.machineBusyPercent}% |`),
    '',
    '## normalizePath',
    '',
    `Canonical path (fast scan, no allocation): ${fmt(result.normalisation.canonicalMedianNs)} median; path needing a rewrite: ${fmt(result.normalisation.rewriteMedianNs)} median.`,
    '',
    'Caveat: the mix reuses its strings, so V8 has their hashes cached after the first pass; in the proxy each host and path is a fresh string and the first Map lookup hashes it (linear in its length).',
    '',
  ];
  return lines.join('\n');
}

main();
