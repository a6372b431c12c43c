/**
 * Command-line options of `npm run bench -- ...`, parsed strictly: an unknown
 * option or a bad value is an error that says what to write instead.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { OPT_IN_PROXIES, PROXY_NAMES, type ProxyName } from './proxies.js';

export interface BenchOptions {
  /** Scenario names; empty means all (or the smoke scenario with --smoke). */
  readonly scenarios: string[];
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly connections: number;
  readonly threads: number;
  readonly rounds: number;
  /** Proxies in measuring order; `explicitProxies` is false when the default list applies. */
  readonly proxies: ProxyName[];
  readonly explicitProxies: boolean;
  readonly rates: number[];
  readonly smoke: boolean;
  readonly pin: boolean;
  /** Workers/threads per proxy (warpdrive worker_threads, nginx worker_processes, HAProxy nbthread). */
  readonly proxyThreads: number;
  readonly note: string | undefined;
  /** Where results go; undefined = bench/results (bench/results/tmp for smoke runs). */
  readonly outDir: string | undefined;
  /** Another compiled warpdrive CLI entry to measure instead of this checkout's. */
  readonly warpdriveMain: string | undefined;
  /** A second warpdrive build measured alongside as `baseline` (before/after in one run). */
  readonly baselineMain: string | undefined;
  /** TOML appended to the measured warpdrive's config (not the baseline's): e.g. an [admin] section, to price metrics. */
  readonly warpdriveExtra: string | undefined;
  /** Profile warpdrive (and the baseline) with --cpu-prof: top functions and a flame graph per scenario. */
  readonly profile: boolean;
  /** Re-render the report of this results JSON file, measuring nothing. */
  readonly render: string | undefined;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --scenario NAME      scenario to run; repeat or comma-separate (default: all)
                       small-get, large-100k, upload-1m, routes-1000, pool-3,
                       pool-3-least-conn, pool-3-random, pool-3-ip-hash,
                       new-conn, cache-hit, cache-miss, gzip-json-100k,
                       sendfile-1m, static-small, static-precompressed,
                       https-small-get, https-new-conn, ws-echo, rate-1k, rate-5k,
                       paced-1k, paced-5k (rate-* with autocannon, paced-* with
                       bench/paced-load.ts, one of each per --rates entry; the
                       gzip/sendfile/static ones run warpdrive and nginx only, the
                       https ones warpdrive, nginx and HAProxy, the cache ones
                       warpdrive, nginx, Varnish and direct)
  --duration SECS      measured seconds per run (default 10; smoke 2)
  --warmup SECS        discarded warm-up before each measured run (default 2; smoke 1)
  --connections N      concurrent connections (default 50)
  --threads N          wrk threads (default 1)
  --rounds N           rounds; proxies alternate within each round (default 3; smoke 1)
  --proxies LIST       comma list from: ${PROXY_NAMES.join(', ')}
                       (default: all but baseline and the floor-* reference points,
                       bench/egress-floor.ts, which run only when named)
  --rates LIST         fixed rates, req/s (default 1000,5000)
  --smoke              a few seconds of small-get on every available proxy; checks
                       that the harness works, asserts nothing about speed
  --no-pin             do not pin processes to CPUs with taskset
  --proxy-threads N    threads/workers of warpdrive, nginx and HAProxy (default 1: the
                       per-core comparison); above 1 the bench runs unpinned
  --render FILE.json   redo the Markdown report and charts of an earlier run, measuring nothing
  --note TEXT          a note printed at the top of the report
  --out DIR            results directory (default bench/results)
  --warpdrive FILE     compiled warpdrive CLI entry to measure (default: this build's)
  --baseline FILE      another compiled warpdrive CLI entry, measured alongside as
                       "baseline" (before/after in the same run)
  --warpdrive-extra FILE
                       TOML appended to the measured warpdrive's config, not the
                       baseline's (e.g. [admin] to price metrics: give the same
                       build as --baseline)
  --profile            run warpdrive under node --cpu-prof; the report gets its top
                       functions and a flame graph per scenario (adds profiler overhead)
  --help               this text`;

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, got "${value}"`);
  return n;
}

function commaList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      scenario: { type: 'string', multiple: true },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      rounds: { type: 'string' },
      proxies: { type: 'string', multiple: true },
      rates: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      'proxy-threads': { type: 'string' },
      note: { type: 'string' },
      out: { type: 'string' },
      warpdrive: { type: 'string' },
      baseline: { type: 'string' },
      'warpdrive-extra': { type: 'string' },
      profile: { type: 'boolean', default: false },
      render: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"; options start with -- (see --help)`);
  const smoke = values.smoke === true;
  const proxyNames = commaList(values.proxies);
  const unknownProxies = proxyNames.filter((p) => !(PROXY_NAMES as readonly string[]).includes(p));
  if (unknownProxies.length > 0) throw new Error(`unknown proxy "${unknownProxies[0]}"; choose from: ${PROXY_NAMES.join(', ')}`);
  const rates = commaList(values.rates ? [values.rates] : ['1000,5000']).map((r) => positiveInteger('rates', r, 0));
  const scenarios = commaList(values.scenario);
  const threads = positiveInteger('threads', values.threads, 1);
  const connections = positiveInteger('connections', values.connections, 50);
  if (connections < threads) throw new Error(`--connections (${connections}) must be at least --threads (${threads}): wrk gives each thread its share`);
  return {
    scenarios: scenarios.length === 0 && smoke ? ['small-get'] : scenarios,
    durationSec: positiveInteger('duration', values.duration, smoke ? 2 : 10),
    warmupSec: positiveInteger('warmup', values.warmup, smoke ? 1 : 2),
    connections,
    threads,
    rounds: positiveInteger('rounds', values.rounds, smoke ? 1 : 3),
    proxies: proxyNames.length > 0 ? ([...new Set(proxyNames)] as ProxyName[]) : PROXY_NAMES.filter((p) => !OPT_IN_PROXIES.has(p) || (p === 'baseline' && values.baseline !== undefined)),
    explicitProxies: proxyNames.length > 0,
    rates,
    smoke,
    pin: values['no-pin'] !== true,
    proxyThreads: positiveInteger('proxy-threads', values['proxy-threads'], 1),
    note: values.note,
    outDir: values.out,
    warpdriveMain: values.warpdrive,
    baselineMain: values.baseline,
    warpdriveExtra: values['warpdrive-extra'],
    profile: values.profile === true,
    render: values.render,
    help: values.help === true,
  };
}
