/**
 * The Markdown report and its two charts, rendered from a {@link RunResult}.
 *
 * @module
 */
import type { ProxyName } from '../lib/proxies.js';
import { LOAD_CPU_SATURATED_PERCENT, limitedByLoadSide, type ProxySummary, type RunResult, type ScenarioResult, type ScenarioTls } from '../lib/results.js';
import type { Spread } from '../lib/stats.js';
import { renderChart, type ChartPanel } from './svg-chart.js';

/** One colour per proxy, the same in every chart. */
export const PROXY_COLORS: Readonly<Record<ProxyName, string>> = {
  warpdrive: '#d9480f',
  baseline: '#f59f00',
  nginx: '#2b8a3e',
  varnish: '#c2255c',
  haproxy: '#1c7ed6',
  node: '#7048e8',
  'floor-net': '#adb5bd',
  'floor-undici': '#ced4da',
  direct: '#868e96',
};

export function formatCount(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a';
}

export function formatMicros(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : 'n/a';
}

export function formatMiB(bytes: number): string {
  return Number.isFinite(bytes) && bytes > 0 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : 'n/a';
}

function withSpread(s: Spread, format: (v: number) => string): string {
  if (s.n <= 1 || s.min === s.max) return format(s.median);
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

export function renderCharts(result: RunResult): { throughput: string; p99: string } {
  const wrkScenarios = result.scenarios.filter((s) => s.summaries.length > 0);
  const panel = (s: ScenarioResult, pick: (p: ProxySummary) => Spread, text: (p: ProxySummary) => string): ChartPanel => ({
    // Skipped proxies are named in the title so that a missing bar is never silent.
    title: s.skipped.length > 0 ? `${s.title} (skipped: ${s.skipped.map((k) => k.proxy).join(', ')})` : s.title,
    bars: s.summaries.map((p) => {
      const v = pick(p);
      const warning = p.failedRequests > 0 ? ` ! ${formatCount(p.failedRequests)} failed` : '';
      return { label: p.label, median: v.median, min: v.min, max: v.max, text: text(p) + warning, color: PROXY_COLORS[p.proxy] };
    }),
  });
  const when = `${result.startedAt}${result.smoke ? ' (smoke run)' : ''}`;
  // At a fixed rate every proxy does the same requests/s: no throughput panel for those.
  const peakScenarios = wrkScenarios.filter((s) => s.tool !== 'autocannon' && s.tool !== 'paced');
  const throughput = renderChart({
    title: 'Throughput per scenario (requests/s, median of rounds; whiskers: min–max)',
    subtitle: `Longer is better. Ratios are to nginx in the same run. ${when}`,
    panels: peakScenarios.map((s) =>
      panel(s, (p) => p.requestsPerSec, (p) => `${formatCount(p.requestsPerSec.median)}${Number.isFinite(p.throughputVsNginx) ? ` (${formatRatio(p.throughputVsNginx)})` : ''}`),
    ),
  });
  const p99 = renderChart({
    title: 'p99 latency per scenario (ms, median of rounds; whiskers: min–max)',
    subtitle: `Shorter is better. Ratios are to nginx in the same run. ${when}`,
    panels: wrkScenarios.map((s) =>
      panel(s, (p) => p.p99Ms, (p) => `${formatMs(p.p99Ms.median)} ms${Number.isFinite(p.p99VsNginx) ? ` (${formatRatio(p.p99VsNginx)})` : ''}`),
    ),
  });
  return { throughput, p99 };
}

export interface ReportAssets {
  /** Paths relative to the report file. */
  readonly throughputSvg: string;
  readonly p99Svg: string;
  readonly json: string;
  /** Inline text of the headline scenario's configs, by proxy. */
  readonly headlineConfigs: ReadonlyArray<{ readonly proxy: ProxyName; readonly file: string; readonly text: string }>;
}

function scenarioTable(s: ScenarioResult): string[] {
  const lines = [
    '| proxy | req/s median (min–max) | vs nginx | p50 ms | p99 ms | p99.9 ms | p99 vs nginx | CPU % | CPU µs/req | CPU/req vs nginx | peak RSS | upstream CPU % | load CPU busy % | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of s.summaries) {
    const isDirect = p.proxy === 'direct';
    lines.push(
      `| ${p.label} | ${withSpread(p.requestsPerSec, formatCount)} | ${formatRatio(p.throughputVsNginx)} | ${withSpread(p.p50Ms, formatMs)} | ${withSpread(p.p99Ms, formatMs)} | ${withSpread(p.p999Ms, formatMs)} | ${formatRatio(p.p99VsNginx)} | ${isDirect ? '–' : withSpread(p.cpuPercent, (v) => v.toFixed(0))} | ${isDirect || p.cpuMicrosPerRequest === undefined ? '–' : withSpread(p.cpuMicrosPerRequest, formatMicros)} | ${isDirect ? '–' : formatRatio(p.cpuPerRequestVsNginx)} | ${isDirect ? '–' : withSpread(p.peakRssBytes, formatMiB)} | ${p.upstreamCpuPercent.n > 0 ? p.upstreamCpuPercent.median.toFixed(0) : 'n/a'} | ${p.loadCpuBusyPercent?.n ? p.loadCpuBusyPercent.median.toFixed(0) : 'n/a'} | ${p.failedRequests} |`,
    );
  }
  return lines;
}

export function renderMarkdown(result: RunResult, assets: ReportAssets): string {
  const m = result.machine;
  const out: string[] = [];
  out.push(`# warpdrive bench report: ${result.startedAt}${result.smoke ? ' (smoke run: not a measurement)' : ''}`, '');
  if (result.note) out.push(`> **Note:** ${result.note}`, '');
  const busy = (m.loadAverageAtStart[0] ?? 0) >= 0.5;
  out.push(
    `- Machine: ${m.cpuModel}, ${m.cpuCount} CPUs, ${formatMiB(m.memoryBytes)} RAM, Linux ${m.kernel}`,
    `- Load average before the run: ${m.loadAverageAtStart.map((v) => v.toFixed(2)).join(' / ')} (1/5/15 min); after: ${m.loadAverageAtEnd.map((v) => v.toFixed(2)).join(' / ')}${busy ? ' **— the machine was busy before the bench started: treat these figures as indicative only.**' : ''}`,
    `- Pinning: ${result.pinning}`,
    `- Proxy threads: ${proxyThreadsLine(result.options.proxyThreads ?? 1)}`,
    `- Per measurement: ${result.options.warmupSec} s warm-up (discarded), then ${result.options.durationSec} s measured; ${result.options.rounds} round(s), proxies alternating within each round; wrk with ${result.options.threads} thread(s) and ${result.options.connections} connections.`,
    `- Versions: ${Object.entries(result.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- Raw data: [${assets.json}](${assets.json})`,
    ...(result.options.profile ? ['- **Profiled run** (`--profile`): warpdrive ran under `node --cpu-prof`, so its figures include the profiler\'s overhead.'] : []),
    '',
    'Figures are medians over rounds with (min–max); "vs nginx" divides by nginx\'s median from this same run. "direct" is wrk against the upstream with no proxy: the ceiling this machine allows, given that the load generator and upstream share a CPU. CPU % and peak RSS are the proxy\'s own processes during the measured window (100 % = one core); "CPU µs/req" is that CPU time divided by the requests served: the per-core cost of a request, which still compares proxies when the load side, not the proxy, sets the throughput. "upstream CPU %" is the shared upstream server\'s and "load CPU busy %" the busy share (interrupts included) of the CPU(s) the load generator runs on, so that a limit on the load side shows. "failed" counts socket errors and non-2xx/3xx responses over all rounds; a proxy that fails requests is not measured fairly.',
    '',
    `![throughput](${assets.throughputSvg})`,
    '',
    `![p99 latency](${assets.p99Svg})`,
    '',
  );
  for (const s of result.scenarios) {
    out.push(`## ${s.title} (\`${s.name}\`)`, '', s.description, '', `Load: \`${s.loadCommand}\``, '');
    if (s.tls) out.push(...tlsLines(s.tls), '');
    if (s.summaries.length > 0) out.push(...scenarioTable(s), '');
    const loadBound = limitedByLoadSide(s.summaries);
    if (loadBound.length > 0) {
      out.push(
        `**Limited by the load side:** with ${loadBound.map((p) => p.label).join(', ')} the load generator's CPU was at least ${LOAD_CPU_SATURATED_PERCENT}% busy, so their requests/s are the rig's ceiling, not theirs, and a throughput ratio against them understates the gap per core: compare "CPU µs/req" instead.`,
        '',
      );
    }
    const now = s.summaries.find((p) => p.proxy === 'warpdrive');
    const before = s.summaries.find((p) => p.proxy === 'baseline');
    if (now && before) {
      out.push(`warpdrive against its baseline build in this run: throughput ${formatRatio(now.requestsPerSec.median / before.requestsPerSec.median)}, p99 ${formatRatio(now.p99Ms.median / before.p99Ms.median)}.`, '');
    }
    for (const skip of s.skipped) out.push(`- **${skip.proxy} not measured:** ${skip.reason}`);
    if ((s.tool === 'autocannon' || s.tool === 'paced') && s.rate !== undefined) {
      // At a fixed rate the latencies only compare if every proxy was offered, and kept up with, the same load.
      const behind = s.summaries.filter((p) => p.requestsPerSec.median < s.rate! * 0.95);
      if (behind.length > 0) out.push(`- **Below 95% of the ${formatCount(s.rate)} req/s target:** ${behind.map((p) => `${p.label} (${formatCount(p.requestsPerSec.median)})`).join(', ')}; their latencies are not at the same load as the others'.`);
    }
    if (s.skipped.length > 0) out.push('');
    for (const profile of s.profiles ?? []) {
      const busyShare = profile.busySamples + profile.idleSamples > 0 ? (profile.busySamples / (profile.busySamples + profile.idleSamples)) * 100 : 0;
      out.push(
        `**${profile.proxy} CPU profile** (\`--cpu-prof\`, main thread, warm-ups and all rounds; busy ${busyShare.toFixed(0)}% of samples): [flame graph](${profile.flameGraph}), [.cpuprofile](${profile.cpuprofile}) (opens in Chrome DevTools). Top functions by self time, as a share of busy samples:`,
        '',
        '| self % | function |',
        '| ---: | --- |',
        ...profile.top.slice(0, 15).map((f) => `| ${f.selfPercent.toFixed(1)} | \`${f.name.replace(/\|/g, '\\|')}\` |`),
        '',
      );
    }
    if (s.configs.length > 0) {
      out.push(`Configs: ${s.configs.map((c) => c.files.map((f) => `[${c.proxy}/${f.split('/').pop()}](${f})`).join(', ')).join(', ')}`, '');
    }
  }
  if (result.scenarios.some((s) => s.tool === 'autocannon')) {
    out.push(
      '## About the fixed-rate figures',
      '',
      "autocannon's latency histogram counts whole milliseconds, so sub-millisecond latencies read as 0 or 1 ms; and it paces each connection per second, which makes the offered load bursty. Its p99 at a fixed rate still shows which proxy queues; the `paced-*` scenarios (the bench's own open-loop client, bench/paced-load.ts) measure the same rates evenly spaced, in microseconds.",
      '',
    );
  }
  if (assets.headlineConfigs.length > 0) {
    out.push('## Configurations (headline scenario)', '', 'Rendered from the templates in `bench/configs/` with this run\'s ports; every scenario\'s files are linked above.', '');
    for (const c of assets.headlineConfigs) {
      out.push(`### ${c.proxy}: \`${c.file}\``, '', '```', c.text.trimEnd(), '```', '');
    }
  }
  return out.join('\n');
}

function proxyThreadsLine(threads: number): string {
  return threads === 1
    ? '1 each (warpdrive worker_threads, nginx worker_processes, HAProxy nbthread): the per-core comparison.'
    : `${threads} each (warpdrive worker_threads, nginx worker_processes, HAProxy nbthread); the Node peer and the floors stay single-threaded. Not a per-core comparison: every process shares the machine's CPUs.`;
}

/** An HTTPS scenario's TLS checks, as one paragraph. */
function tlsLines(tls: ScenarioTls): string[] {
  const each = tls.negotiated.map((n) => `${n.proxy} ${n.protocol} ${n.cipher} ${n.group}, ${n.tickets} session ticket(s) per connection`);
  const lines = [
    `TLS, checked before measuring with one GET per proxy (Node's OpenSSL client, which offers what wrk offers; the bench certificate, ECDSA P-256, the only one trusted): ${each.join('; ') || 'no proxy answered'}.`,
  ];
  const check = tls.resumptionCheck;
  if (check) {
    lines.push(
      '',
      `Full handshakes: wrk with \`wrk-no-resume.so\` made ${formatCount(check.handshakes)} handshakes against a server that resumes any session it is offered, and resumed ${check.resumed}. (wrk by itself resumes the session on every reconnection: see docs/bench.md.)`,
    );
  }
  return lines;
}
