/**
 * The shape of a bench run's results: what bench/results/<timestamp>.json holds
 * and what the Markdown report and the charts are rendered from.
 *
 * @module
 */
import type { ProxyName } from './proxies.js';
import type { LoadTool } from './scenarios.js';
import { ratio, spread, type Spread } from './stats.js';
import type { LoadResult } from './wrk.js';
import type { FunctionCost } from './cpu-profile.js';
import type { NegotiatedTls } from './probe.js';
import type { ResumptionCount } from './wrk-no-resume.js';

/** A warpdrive CPU profile over one scenario (warm-ups and all rounds). */
export interface ProfileSummary {
  readonly proxy: ProxyName;
  /** Paths relative to the report. */
  readonly flameGraph: string;
  readonly cpuprofile: string;
  readonly busySamples: number;
  readonly idleSamples: number;
  readonly top: readonly FunctionCost[];
}

export interface Measurement extends LoadResult {
  readonly proxy: ProxyName;
  /** 1-based round. */
  readonly round: number;
  /** CPU of the proxy's processes during the measured window, % of one core. */
  readonly cpuPercent: number;
  /** Peak resident memory of the proxy's processes during the window. */
  readonly peakRssBytes: number;
  /** CPU of the upstream server during the window (absent in results from before it was sampled). */
  readonly upstreamCpuPercent?: number;
  /**
   * Busy percent of the CPUs the load generator runs on (shared with the upstream on a
   * 2-CPU machine), interrupts included; absent when unpinned or in older results.
   */
  readonly loadCpuBusyPercent?: number;
}

export interface ProxySummary {
  readonly proxy: ProxyName;
  readonly label: string;
  readonly requestsPerSec: Spread;
  readonly p50Ms: Spread;
  readonly p99Ms: Spread;
  readonly p999Ms: Spread;
  readonly cpuPercent: Spread;
  readonly peakRssBytes: Spread;
  readonly upstreamCpuPercent: Spread;
  /**
   * The proxy's CPU time per request in microseconds (its CPU % over requests/s):
   * the per-core cost, which still compares when the load side, not the proxy,
   * limits the throughput.
   */
  readonly cpuMicrosPerRequest: Spread;
  readonly loadCpuBusyPercent: Spread;
  /** Median requests/s divided by nginx's median in the same run. */
  readonly throughputVsNginx: number;
  /** Median p99 divided by nginx's median p99 in the same run (below 1 is better). */
  readonly p99VsNginx: number;
  /** Median CPU per request divided by nginx's (below 1 is better: less CPU per request). */
  readonly cpuPerRequestVsNginx: number;
  /** Requests that failed (socket errors + non-2xx/3xx) over all rounds. */
  readonly failedRequests: number;
}

export interface ScenarioResult {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly tool: LoadTool;
  /** The fixed request rate of an autocannon scenario. */
  readonly rate?: number;
  /** The exact load command for one proxy (the URL differs per proxy). */
  readonly loadCommand: string;
  readonly measurements: Measurement[];
  readonly summaries: ProxySummary[];
  readonly skipped: Array<{ readonly proxy: ProxyName; readonly reason: string }>;
  /** Rendered config files per proxy, relative to the report. */
  readonly configs: Array<{ readonly proxy: ProxyName; readonly files: string[] }>;
  /** With --profile: warpdrive's CPU profiles. */
  readonly profiles: ProfileSummary[];
  /** An HTTPS scenario: what was checked about TLS before measuring. */
  readonly tls?: ScenarioTls;
}

/** What an HTTPS scenario checked about TLS before it measured. */
export interface ScenarioTls {
  /** Each proxy's handshake in its check (Node's OpenSSL client, with wrk's defaults). */
  readonly negotiated: Array<{ readonly proxy: ProxyName } & NegotiatedTls>;
  /**
   * https-new-conn: wrk with wrk-no-resume.so against a server that resumes what it is
   * offered: how many handshakes it made and resumed (0, or the scenario is not run).
   */
  readonly resumptionCheck?: ResumptionCount;
}

export interface RunResult {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly smoke: boolean;
  readonly note: string | undefined;
  readonly machine: {
    readonly cpuModel: string;
    readonly cpuCount: number;
    readonly kernel: string;
    readonly memoryBytes: number;
    /** /proc/loadavg just before the bench started any load: others' work on the machine. */
    readonly loadAverageAtStart: readonly number[];
    readonly loadAverageAtEnd: readonly number[];
  };
  readonly versions: Readonly<Record<string, string>>;
  readonly options: {
    readonly durationSec: number;
    readonly warmupSec: number;
    readonly rounds: number;
    readonly connections: number;
    readonly threads: number;
    /** Workers/threads per proxy; absent in reports from before --proxy-threads (they ran 1). */
    readonly proxyThreads?: number;
    readonly proxies: readonly ProxyName[];
    readonly profile: boolean;
  };
  readonly pinning: string;
  readonly scenarios: ScenarioResult[];
}

/** Summaries per proxy, in the order given, with ratios to nginx when nginx ran. */
export function summarize(measurements: readonly Measurement[], proxies: ReadonlyArray<{ name: ProxyName; label: string }>): ProxySummary[] {
  const byProxy = new Map<ProxyName, Measurement[]>();
  for (const m of measurements) {
    const list = byProxy.get(m.proxy) ?? [];
    list.push(m);
    byProxy.set(m.proxy, list);
  }
  const base = proxies
    .filter((p) => byProxy.has(p.name))
    .map((p) => {
      const list = byProxy.get(p.name)!;
      return {
        proxy: p.name,
        label: p.label,
        requestsPerSec: spread(list.map((m) => m.requestsPerSec)),
        p50Ms: spread(list.map((m) => m.p50Ms)),
        p99Ms: spread(list.map((m) => m.p99Ms)),
        p999Ms: spread(list.map((m) => m.p999Ms)),
        cpuPercent: spread(list.map((m) => m.cpuPercent)),
        peakRssBytes: spread(list.map((m) => m.peakRssBytes)),
        upstreamCpuPercent: spread(list.map((m) => m.upstreamCpuPercent ?? NaN)),
        cpuMicrosPerRequest: spread(list.map(cpuMicrosPerRequest)),
        loadCpuBusyPercent: spread(list.map((m) => m.loadCpuBusyPercent ?? NaN)),
        failedRequests: list.reduce((sum, m) => sum + m.socketErrors + m.statusErrors, 0),
      };
    });
  const nginx = base.find((s) => s.proxy === 'nginx');
  return base.map((s) => ({
    ...s,
    throughputVsNginx: nginx ? ratio(s.requestsPerSec.median, nginx.requestsPerSec.median) : NaN,
    p99VsNginx: nginx ? ratio(s.p99Ms.median, nginx.p99Ms.median) : NaN,
    cpuPerRequestVsNginx: nginx ? ratio(s.cpuMicrosPerRequest.median, nginx.cpuMicrosPerRequest.median) : NaN,
  }));
}

/** CPU microseconds the proxy spent per request in one measurement; NaN when either is unknown. */
export function cpuMicrosPerRequest(m: Pick<Measurement, 'cpuPercent' | 'requestsPerSec'>): number {
  return m.requestsPerSec > 0 ? (m.cpuPercent / 100) * 1e6 / m.requestsPerSec : NaN;
}

/** Busy percent at or above which the load generator's CPU is taken to be the limit. */
export const LOAD_CPU_SATURATED_PERCENT = 95;

/** Proxies whose runs were limited by the load generator's CPU rather than their own. */
export function limitedByLoadSide(summaries: readonly ProxySummary[]): ProxySummary[] {
  return summaries.filter((p) => p.proxy !== 'direct' && (p.loadCpuBusyPercent?.n ?? 0) > 0 && p.loadCpuBusyPercent.median >= LOAD_CPU_SATURATED_PERCENT);
}
