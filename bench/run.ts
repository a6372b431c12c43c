/**
 * `npm run bench`: warpdrive against nginx, HAProxy, a Node.js proxy and the
 * bare upstream, scenario by scenario, rounds alternating between proxies.
 * See docs/bench.md for what is measured and how to read the report.
 *
 * Nothing is installed here: missing tools are reported with the command that
 * installs them.
 *
 * @module
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAutocannon } from './lib/autocannon.js';
import { projectRoot } from './lib/configs.js';
import { allowedCpus, loadAverage, machineFacts, planCpus, toolVersions } from './lib/machine.js';
import { parseOptions, USAGE, type BenchOptions } from './lib/options.js';
import { CpuBusySampler, ProcessSampler } from './lib/proc-sampler.js';
import { differentTls, negotiatedTls, probeCaching, probeUntilReady, verifyResponse, type NegotiatedTls, type ProbeTls } from './lib/probe.js';
import { writeBenchFiles } from './lib/bench-files.js';
import { BENCH_TLS_SERVER_NAME, writeBenchCertificate, type BenchTlsFiles } from './lib/bench-tls.js';
import { buildNoResumeLibrary, checkFullHandshakes, noResumeEnv, NO_RESUME_SOURCE, type ResumptionCount } from './lib/wrk-no-resume.js';
import { killAllNow, ManagedProcess, runToCompletion, stopAll } from './lib/processes.js';
import { benchDistDir, PROXIES, type ProxyAdapter, type ProxyContext, type ProxyName, type RunningProxy } from './lib/proxies.js';
import { cpuMicrosPerRequest, summarize, type Measurement, type ProfileSummary, type RunResult, type ScenarioResult, type ScenarioTls } from './lib/results.js';
import { flameTree, mainThreadProfile, topFunctions, type CpuProfile } from './lib/cpu-profile.js';
import { renderFlameGraph } from './report/flame-graph.js';
import { expectedResponse, scenarioTopology, selectScenarios, type Scenario } from './lib/scenarios.js';
import { checkTool, describeMissing, type ToolName, type ToolStatus } from './lib/tools.js';
import type { BalancedTopology } from './lib/configs.js';
import { probeTarget } from './lib/topology.js';
import { runWrk, wrkArgs, writeWrkScript, type LoadResult } from './lib/wrk.js';
import { formatCount, formatMs, renderCharts, renderMarkdown } from './report/markdown.js';

/** Raised for a setup the user must fix; printed without a stack trace, exit code 1. */
class BenchSetupError extends Error {}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function timestampForFile(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

interface Upstream {
  readonly process: ManagedProcess;
  readonly ports: number[];
}

/** What the HTTPS scenarios share in one run: the certificate, and wrk's full-handshake setup. */
interface HttpsSetup {
  readonly files: BenchTlsFiles;
  /** The probes trust the bench certificate only. */
  readonly probe: ProbeTls;
  /** https-new-conn: wrk's environment preloading wrk-no-resume.so, and its check (run once, before any scenario). */
  readonly fullHandshakes: { readonly wrkEnv: NodeJS.ProcessEnv; readonly check: ResumptionCount } | undefined;
}

/** The URL the load generator uses for a proxy on `port` (the name in the certificate for HTTPS: wrk sends it as SNI). */
function loadUrl(scenario: Scenario, port: number | 'PORT', https: HttpsSetup | undefined): string {
  if (scenario.https === undefined) return `http://127.0.0.1:${port}${scenario.path}`;
  return `https://${https?.files.serverName ?? BENCH_TLS_SERVER_NAME}:${port}${scenario.path}`;
}

async function startUpstream(ctx: ProxyContext, instances: number): Promise<Upstream> {
  const proc = new ManagedProcess({
    name: 'upstream',
    command: process.execPath,
    args: [path.join(benchDistDir(), 'upstream-server.js'), '--instances', String(instances)],
    cpus: ctx.cpus.upstream,
    tasksetPath: ctx.cpus.tasksetPath,
  });
  const match = await proc.waitForOutput(/UPSTREAM_READY (\{.*\})/, ctx.startTimeoutMs);
  const { ports } = JSON.parse(match[1]!) as { ports: number[] };
  return { process: proc, ports };
}

/** Picks the proxies to run; throws with install hints when a needed one is missing. */
function chooseProxies(options: BenchOptions, ctx: ProxyContext): { adapters: ProxyAdapter[]; skipped: Array<{ proxy: ProxyName; reason: string }> } {
  const adapters: ProxyAdapter[] = [];
  const skipped: Array<{ proxy: ProxyName; reason: string }> = [];
  for (const name of options.proxies) {
    const adapter = PROXIES[name];
    const reason = adapter.unavailableReason(ctx);
    if (reason === undefined) adapters.push(adapter);
    else skipped.push({ proxy: name, reason });
  }
  if (skipped.length === 0) return { adapters, skipped };
  const list = skipped.map((s) => `  - ${s.proxy}: ${s.reason}`).join('\n');
  // warpdrive is the subject: no run without it. Others may be left out on purpose with --proxies.
  const warpdriveMissing = skipped.find((s) => s.proxy === 'warpdrive');
  if (warpdriveMissing) throw new BenchSetupError(`cannot run warpdrive:\n${list}`);
  if (options.smoke) {
    log(`smoke run without some proxies (the harness still runs on the rest):\n${list}`);
    return { adapters, skipped };
  }
  throw new BenchSetupError(`some proxies cannot run here:\n${list}\nInstall them, or leave them out with --proxies (e.g. --proxies warpdrive,direct).`);
}

async function measureOnce(
  scenario: Scenario,
  proxy: RunningProxy,
  durationSec: number,
  ctx: ProxyContext,
  options: BenchOptions,
  scriptFile: string | undefined,
  https: HttpsSetup | undefined,
): Promise<LoadResult> {
  const url = loadUrl(scenario, proxy.port, https);
  if (scenario.tool === 'wrk') {
    const env = scenario.https === 'full-handshakes' ? https?.fullHandshakes?.wrkEnv : undefined;
    if (scenario.https === 'full-handshakes' && env === undefined) throw new Error(`bench: ${scenario.name} needs wrk-no-resume.so, which was not built`);
    return runWrk({
      wrkPath: ctx.tools.wrk.path!,
      url,
      scriptFile: scriptFile!,
      durationSec,
      connections: options.connections,
      threads: options.threads,
      headers: scenario.headers ?? [],
      cpus: ctx.cpus.load,
      tasksetPath: ctx.cpus.tasksetPath,
      ...(env === undefined ? {} : { env }),
    });
  }
  if (scenario.tool === 'autocannon') {
    return runAutocannon({
      cliPath: ctx.tools.autocannon.path!,
      url,
      ratePerSec: scenario.ratePerSec!,
      durationSec,
      connections: options.connections,
      cpus: ctx.cpus.load,
      tasksetPath: ctx.cpus.tasksetPath,
    });
  }
  if (scenario.tool === 'paced') {
    const { code, stdout, stderr } = await runToCompletion(
      process.execPath,
      [path.join(benchDistDir(), 'paced-load.js'), url, String(scenario.ratePerSec), String(options.connections), String(durationSec)],
      (durationSec + 30) * 1000,
      ctx.cpus.load,
      ctx.cpus.tasksetPath,
    );
    const match = /^PACED_RESULT (\{.*\})$/m.exec(stdout);
    if (code !== 0 || !match) throw new Error(`paced load client failed (exit ${String(code)}): ${stderr.trim() || stdout.trim()}`);
    return JSON.parse(match[1]!) as LoadResult;
  }
  const wsUrl = `ws://127.0.0.1:${proxy.port}${scenario.path}`;
  const { code, stdout, stderr } = await runToCompletion(
    process.execPath,
    [path.join(benchDistDir(), 'ws-echo-load.js'), wsUrl, String(options.connections), String(durationSec)],
    (durationSec + 30) * 1000,
    ctx.cpus.load,
    ctx.cpus.tasksetPath,
  );
  const match = /^WS_RESULT (\{.*\})$/m.exec(stdout);
  if (code !== 0 || !match) throw new Error(`WebSocket load client failed (exit ${String(code)}): ${stderr.trim() || stdout.trim()}`);
  return JSON.parse(match[1]!) as LoadResult;
}

function loadCommandFor(scenario: Scenario, options: BenchOptions, scriptFile: string | undefined, https: HttpsSetup | undefined): string {
  const url = loadUrl(scenario, 'PORT', https);
  if (scenario.tool === 'wrk') {
    const parts = [...(scenario.wrkScript?.parts ?? []), 'report.lua'].map((p) => `bench/lua/${p}`).join(' + ');
    const args = wrkArgs({ wrkPath: 'wrk', url, scriptFile: `${scenario.name}.lua`, durationSec: options.durationSec, connections: options.connections, threads: options.threads, headers: scenario.headers ?? [], cpus: undefined, tasksetPath: undefined });
    const generated = scenario.wrkScript?.prelude ? ' with the generated route targets' : '';
    const preload = scenario.https === 'full-handshakes' ? `LD_PRELOAD=wrk-no-resume.so ` : '';
    const preloadNote = scenario.https === 'full-handshakes' ? `; wrk-no-resume.so built from ${NO_RESUME_SOURCE}` : '';
    return `${preload}wrk ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}  # ${scenario.name}.lua = ${parts}${generated}${preloadNote}`;
  }
  if (scenario.tool === 'autocannon') return `autocannon --json -c ${options.connections} -R ${scenario.ratePerSec} -d ${options.durationSec} ${url}`;
  if (scenario.tool === 'paced') return `node dist/bench/paced-load.js ${url} ${scenario.ratePerSec} ${options.connections} ${options.durationSec}`;
  return `node dist/bench/ws-echo-load.js ws://127.0.0.1:PORT${scenario.path} ${options.connections} ${options.durationSec}`;
}

async function probeWebSocket(port: number, ctx: ProxyContext): Promise<string | undefined> {
  const { code, stderr } = await runToCompletion(process.execPath, [path.join(benchDistDir(), 'ws-echo-load.js'), `ws://127.0.0.1:${port}/echo`, '--probe'], 10_000, ctx.cpus.load, ctx.cpus.tasksetPath);
  return code === 0 ? undefined : stderr.trim() || `probe exited with ${String(code)}`;
}

/** Top functions and a flame graph from each profiled proxy's main-thread profile. */
function collectProfiles(scenario: Scenario, proxies: readonly RunningProxy[], resultsDir: string): ProfileSummary[] {
  const summaries: ProfileSummary[] = [];
  for (const proxy of proxies) {
    if (!proxy.profileDir) continue;
    const file = mainThreadProfile(proxy.profileDir);
    if (!file) {
      log(`[${scenario.name}] ${proxy.name}: no CPU profile was written (did it exit cleanly on SIGTERM?)`);
      continue;
    }
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const dir = path.join(resultsDir, 'profiles');
    mkdirSync(dir, { recursive: true });
    const base = `${scenario.name}-${proxy.name}`;
    copyFileSync(file, path.join(dir, `${base}.cpuprofile`));
    writeFileSync(path.join(dir, `${base}.svg`), renderFlameGraph(flameTree(profile), `${proxy.name} CPU profile: ${scenario.title} (warm-ups and all rounds)`));
    const top = topFunctions(profile, 20);
    const rel = (name: string) => path.relative(path.dirname(resultsDir), path.join(dir, name));
    summaries.push({ proxy: proxy.name, flameGraph: rel(`${base}.svg`), cpuprofile: rel(`${base}.cpuprofile`), busySamples: top.busySamples, idleSamples: top.idleSamples, top: top.functions });
  }
  return summaries;
}

/**
 * Starts a proxy and checks it proxies. One retry: a port picked free a moment
 * ago can be taken by someone else before the proxy binds it. In an HTTPS
 * scenario the probes trust the bench certificate only, and the handshake's
 * outcome is returned.
 */
async function startAndProbe(
  adapter: ProxyAdapter,
  ctx: ProxyContext,
  topology: BalancedTopology,
  dir: string,
  upstream: Upstream,
  scenario: Scenario,
  https: HttpsSetup | undefined,
): Promise<{ proxy: RunningProxy; negotiated: NegotiatedTls | undefined }> {
  const probeTls = scenario.https === undefined ? undefined : https?.probe;
  let firstError: Error | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    let proxy: RunningProxy | undefined;
    try {
      proxy = await adapter.start(ctx, topology, dir, upstream.process.pid);
      const target = probeTarget(topology);
      await probeUntilReady(proxy.port, target.path, target.host, 5_000, probeTls);
      await verifyResponse(proxy.port, scenario.path, scenario.headers ?? [], expectedResponse(scenario));
      // A cache scenario's figures mean something only if the proxy really caches.
      if (topology.cache === true && proxy.name !== 'direct') await probeCaching(proxy.port, upstream.ports[0]!);
      const negotiated = probeTls === undefined ? undefined : await negotiatedTls(proxy.port, scenario.path, probeTls);
      return { proxy, negotiated };
    } catch (error) {
      await proxy?.stop();
      if (firstError) throw new Error(`${firstError.message}\n(and again on a second try: ${(error as Error).message})`);
      firstError = error as Error;
    }
  }
  throw firstError!;
}

interface ScenarioRun {
  result: ScenarioResult;
  /** Problems that make the run (or the smoke check) fail. */
  failures: string[];
}

async function runScenario(
  scenario: Scenario,
  adapters: readonly ProxyAdapter[],
  upstream: Upstream,
  ctx: ProxyContext,
  options: BenchOptions,
  workDir: string,
  resultsDir: string | undefined,
  https: HttpsSetup | undefined,
): Promise<ScenarioRun> {
  const failures: string[] = [];
  const skipped: Array<{ proxy: ProxyName; reason: string }> = [];
  // The scenario's upstream ports, routes and balancing strategy (pool-3-* scenarios set one), certificate for HTTPS.
  const topology: BalancedTopology = scenarioTopology(scenario, upstream.ports, path.join(workDir, 'files'), https?.files);
  const negotiated: ScenarioTls['negotiated'] = [];
  const scenarioDir = path.join(workDir, scenario.name);
  mkdirSync(scenarioDir, { recursive: true });
  const scriptFile = scenario.wrkScript ? writeWrkScript(scenarioDir, scenario.name, scenario.wrkScript) : undefined;
  if (scenario.tool === 'wrk' && !ctx.tools.wrk.path) throw new BenchSetupError(describeMissing([ctx.tools.wrk]));
  if (scenario.tool === 'autocannon' && !ctx.tools.autocannon.path) throw new BenchSetupError(describeMissing([ctx.tools.autocannon]));

  const running: RunningProxy[] = [];
  const configs: Array<{ proxy: ProxyName; files: string[] }> = [];
  try {
    for (const adapter of adapters) {
      const unsupported = adapter.unsupportedReason?.(scenario);
      if (unsupported !== undefined) {
        skipped.push({ proxy: adapter.name, reason: unsupported });
        continue;
      }
      const dir = path.join(scenarioDir, adapter.name);
      mkdirSync(dir, { recursive: true });
      let proxy: RunningProxy;
      try {
        const started = await startAndProbe(adapter, ctx, topology, dir, upstream, scenario, https);
        proxy = started.proxy;
        if (started.negotiated) {
          negotiated.push({ proxy: adapter.name, ...started.negotiated });
          const n = started.negotiated;
          log(`[${scenario.name}] ${adapter.name}: ${n.protocol} ${n.cipher} ${n.group}, ${n.tickets} session ticket(s) per connection, the bench certificate verified`);
        }
      } catch (error) {
        const reason = `did not start or did not proxy correctly: ${(error as Error).message}`;
        skipped.push({ proxy: adapter.name, reason });
        failures.push(`${scenario.name}/${adapter.name}: ${reason}`);
        continue;
      }
      if (scenario.needsWebSocket) {
        const wsProblem = await probeWebSocket(proxy.port, ctx);
        if (wsProblem !== undefined) {
          await proxy.stop();
          if (adapter.name === 'warpdrive' || adapter.name === 'baseline') {
            // Expected until warpdrive's WebSocket support lands; the scenario is ready for it.
            skipped.push({ proxy: adapter.name, reason: `waiting for warpdrive's WebSocket support; the scenario runs as soon as the probe passes (probe: ${wsProblem})` });
          } else {
            skipped.push({ proxy: adapter.name, reason: `WebSocket probe failed: ${wsProblem}` });
            failures.push(`${scenario.name}/${adapter.name}: WebSocket probe failed: ${wsProblem}`);
          }
          continue;
        }
      }
      running.push(proxy);
      if (resultsDir && proxy.configFiles.length > 0) {
        const target = path.join(resultsDir, 'configs', scenario.name, adapter.name);
        mkdirSync(target, { recursive: true });
        const copied = proxy.configFiles.map((f) => {
          copyFileSync(f, path.join(target, path.basename(f)));
          return path.join(target, path.basename(f));
        });
        configs.push({ proxy: adapter.name, files: copied });
      }
    }

    // The HTTPS figures compare only if every proxy did the same crypto.
    const tlsDifference = differentTls(negotiated);
    if (tlsDifference !== undefined) failures.push(`${scenario.name}: ${tlsDifference}`);

    const measurements: Measurement[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const proxy of running) {
        if (proxy.process?.hasExited) {
          failures.push(`${scenario.name}/${proxy.name}: exited during the run; its output:\n${proxy.process.output().slice(-2000)}`);
          continue;
        }
        try {
          await measureOnce(scenario, proxy, options.warmupSec, ctx, options, scriptFile, https);
          const sampler = proxy.pid !== undefined ? new ProcessSampler(proxy.pid) : undefined;
          // The upstream too: near 100% it, not the proxy, would be the limit.
          const upstreamSampler = new ProcessSampler(upstream.process.pid!, 500);
          // And the load generator's CPUs: near 100% busy, the load side sets the pace.
          const loadCpus = ctx.cpus.load === undefined ? undefined : new CpuBusySampler(ctx.cpus.load.split(',').map(Number));
          sampler?.start();
          upstreamSampler.start();
          loadCpus?.start();
          const load = await measureOnce(scenario, proxy, options.durationSec, ctx, options, scriptFile, https);
          const usage = sampler?.stop();
          const upstreamUsage = upstreamSampler.stop();
          const loadCpuBusyPercent = loadCpus?.stop();
          const m: Measurement = {
            ...load,
            proxy: proxy.name,
            round,
            cpuPercent: usage?.cpuPercent ?? NaN,
            peakRssBytes: usage?.peakRssBytes ?? NaN,
            upstreamCpuPercent: upstreamUsage.cpuPercent,
            ...(loadCpuBusyPercent === undefined ? {} : { loadCpuBusyPercent }),
          };
          measurements.push(m);
          const failed = m.socketErrors + m.statusErrors;
          log(
            `[${scenario.name}] round ${round}/${options.rounds} ${proxy.name.padEnd(9)} ${formatCount(m.requestsPerSec).padStart(9)} req/s  p50 ${formatMs(m.p50Ms)} ms  p99 ${formatMs(m.p99Ms)} ms  p99.9 ${formatMs(m.p999Ms)} ms` +
              (usage ? `  cpu ${usage.cpuPercent.toFixed(0)}% (${cpuMicrosPerRequest(m).toFixed(1)} us/req)  rss ${(usage.peakRssBytes / 1048576).toFixed(1)} MiB` : '') +
              (loadCpuBusyPercent === undefined ? '' : `  load cpu ${loadCpuBusyPercent.toFixed(0)}%`) +
              (failed > 0 ? `  FAILED ${failed}` : ''),
          );
          if (m.requests === 0) failures.push(`${scenario.name}/${proxy.name}: no request completed in round ${round}`);
          if (failed > 0) failures.push(`${scenario.name}/${proxy.name}: ${m.socketErrors} socket errors and ${m.statusErrors} non-2xx/3xx responses in round ${round}`);
        } catch (error) {
          failures.push(`${scenario.name}/${proxy.name}: ${(error as Error).message}`);
          log(`[${scenario.name}] round ${round} ${proxy.name}: ${(error as Error).message}`);
        }
      }
    }
    // Stopped before reading profiles: V8 writes them as the process exits.
    await Promise.all(running.map((p) => p.stop()));
    const profiles = resultsDir ? collectProfiles(scenario, running, resultsDir) : [];
    const labels = adapters.map((a) => ({ name: a.name, label: a.label }));
    const relConfigs = resultsDir ? configs.map((c) => ({ proxy: c.proxy, files: c.files.map((f) => path.relative(path.dirname(resultsDir), f)) })) : configs;
    return {
      failures,
      result: {
        name: scenario.name,
        title: scenario.title,
        description: scenario.description,
        tool: scenario.tool,
        rate: scenario.ratePerSec,
        loadCommand: loadCommandFor(scenario, options, scriptFile, https),
        measurements,
        summaries: summarize(measurements, labels),
        skipped,
        configs: relConfigs,
        profiles,
        ...(scenario.https === undefined ? {} : { tls: { negotiated, ...(scenario.https === 'full-handshakes' && https?.fullHandshakes ? { resumptionCheck: https.fullHandshakes.check } : {}) } }),
      },
    };
  } finally {
    await Promise.all(running.map((p) => p.stop()));
  }
}

/**
 * For the HTTPS scenarios: the run's certificate, and for full handshakes the
 * library that keeps wrk from resuming sessions, checked once before any load
 * (a wrk it cannot change stops the run here, not after the other scenarios).
 */
async function prepareHttps(scenarios: readonly Scenario[], tools: Readonly<Record<ToolName, ToolStatus>>, workDir: string, ctx: ProxyContext): Promise<HttpsSetup | undefined> {
  if (!scenarios.some((s) => s.https !== undefined)) return undefined;
  try {
    const files = writeBenchCertificate(tools.openssl.path!, path.join(workDir, 'tls'));
    const probe: ProbeTls = { serverName: files.serverName, ca: readFileSync(files.certFile, 'utf8') };
    if (!scenarios.some((s) => s.https === 'full-handshakes')) return { files, probe, fullHandshakes: undefined };
    const library = buildNoResumeLibrary(tools.cc.path!, workDir);
    const wrkEnv = noResumeEnv(library);
    const check: ResumptionCount = await checkFullHandshakes({ wrkPath: tools.wrk.path!, tls: files, env: wrkEnv, durationSec: 1, connections: 4, cpus: ctx.cpus.load, tasksetPath: ctx.cpus.tasksetPath });
    log(`full TLS handshakes: wrk with ${NO_RESUME_SOURCE} made ${check.handshakes} handshakes and resumed ${check.resumed} against a server that resumes what it is offered`);
    return { files, probe, fullHandshakes: { wrkEnv, check } };
  } catch (error) {
    // The certificate, the library or its check: a setup the user has to fix, said without a stack trace.
    throw new BenchSetupError((error as Error).message);
  }
}

/**
 * Writes the Markdown report and the charts for a results JSON file, beside it
 * (`<stamp>.md`, `<stamp>/*.svg`), and refreshes latest.md for a full run.
 * Also used by --render to redo a report from its JSON.
 */
function writeReport(result: RunResult, jsonFile: string): string {
  const outRoot = path.dirname(jsonFile);
  const stamp = path.basename(jsonFile, '.json');
  const assetsDir = path.join(outRoot, stamp);
  mkdirSync(assetsDir, { recursive: true });
  const charts = renderCharts(result);
  writeFileSync(path.join(assetsDir, 'throughput.svg'), charts.throughput);
  writeFileSync(path.join(assetsDir, 'p99.svg'), charts.p99);
  const headline = result.scenarios.find((s) => s.name === 'small-get') ?? result.scenarios[0];
  // The baseline's config is warpdrive's again; showing it once is enough.
  const headlineConfigs = (headline?.configs ?? [])
    .filter((c) => c.proxy !== 'baseline')
    .map((c) => ({ proxy: c.proxy, file: path.basename(c.files[0]!), text: readFileSync(path.join(outRoot, c.files[0]!), 'utf8') }));
  const mdFile = path.join(outRoot, `${stamp}.md`);
  writeFileSync(mdFile, renderMarkdown(result, { throughputSvg: `${stamp}/throughput.svg`, p99Svg: `${stamp}/p99.svg`, json: `${stamp}.json`, headlineConfigs }));
  // latest.md sits beside the dated report, so the same relative links work in the copy.
  if (!result.smoke) copyFileSync(mdFile, path.join(outRoot, 'latest.md'));
  return mdFile;
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    log(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.render !== undefined) {
    const jsonFile = path.resolve(options.render);
    const mdFile = writeReport(JSON.parse(readFileSync(jsonFile, 'utf8')) as RunResult, jsonFile);
    log(`report: ${path.relative(process.cwd(), mdFile)}`);
    return 0;
  }
  let scenarios: Scenario[];
  try {
    scenarios = selectScenarios(options.scenarios, options.rates);
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  const toolNames: ToolName[] = ['wrk', 'nginx', 'haproxy', 'varnishd', 'taskset', 'autocannon', 'openssl', 'cc'];
  const tools = Object.fromEntries(toolNames.map((t) => [t, checkTool(t)])) as Record<ToolName, ToolStatus>;
  const needed = new Set<ToolName>();
  // The WebSocket and paced clients are the bench's own; wrk and autocannon are not.
  for (const s of scenarios) if (s.tool === 'wrk' || s.tool === 'autocannon') needed.add(s.tool);
  // HTTPS: openssl makes the certificate; full handshakes need the C library built for wrk.
  if (scenarios.some((s) => s.https !== undefined)) needed.add('openssl');
  if (scenarios.some((s) => s.https === 'full-handshakes')) needed.add('cc');
  const missingLoad = [...needed].map((t) => tools[t]).filter((t) => !t.path);
  if (missingLoad.length > 0) throw new BenchSetupError(`the tools these scenarios need are missing:\n${describeMissing(missingLoad)}`);
  if (!tools.taskset.path && options.pin) log(`taskset not found, running unpinned. Install: ${tools.taskset.installHint}`);

  const root = projectRoot();
  // Several proxy threads pinned to the proxy's one CPU would only take turns on it.
  const cpus = options.proxyThreads > 1 ? planCpus(allowedCpus(), tools.taskset.path, false, `--proxy-threads ${options.proxyThreads}`) : planCpus(allowedCpus(), tools.taskset.path, options.pin);
  const ctx: ProxyContext = {
    tools,
    cpus,
    warpdriveMain: path.resolve(options.warpdriveMain ?? path.join(path.dirname(benchDistDir()), 'src', 'cli', 'main.js')),
    baselineMain: options.baselineMain === undefined ? undefined : path.resolve(options.baselineMain),
    proxyThreads: options.proxyThreads,
    startTimeoutMs: 15_000,
    profile: options.profile,
    warpdriveExtra: options.warpdriveExtra === undefined ? undefined : path.resolve(options.warpdriveExtra),
  };
  const { adapters, skipped: unavailable } = chooseProxies(options, ctx);

  const startedAt = new Date();
  const loadAverageAtStart = loadAverage();
  const stamp = timestampForFile(startedAt);
  const outRoot = path.resolve(options.outDir ?? path.join(root, 'bench', 'results', options.smoke ? 'tmp' : ''));
  const resultsDir = path.join(outRoot, stamp);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'warpdrive-bench-'));
  // Started as root, nginx's worker runs as "nobody" and must reach its temp dirs in here.
  chmodSync(workDir, 0o755);

  // The file scenarios' tree, once per run (readable by nginx's "nobody" worker).
  if (scenarios.some((s) => s.feature === 'static' || s.feature === 'x-accel-redirect')) writeBenchFiles(path.join(workDir, 'files'));

  let https: HttpsSetup | undefined;
  try {
    https = await prepareHttps(scenarios, tools, workDir, ctx);
  } catch (error) {
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  // Only now: a setup that fails above leaves no empty results directory behind.
  mkdirSync(resultsDir, { recursive: true });

  const perMeasurement = options.warmupSec + options.durationSec;
  const estimateSec = scenarios.length * options.rounds * adapters.length * perMeasurement;
  log(`${scenarios.map((s) => s.name).join(', ')} on ${adapters.map((a) => a.name).join(', ')}; ${options.rounds} round(s) of ${options.warmupSec}+${options.durationSec} s; about ${Math.ceil(estimateSec / 60)} min`);
  log(`pinning: ${cpus.description}`);
  if (loadAverageAtStart[0]! >= 0.5) log(`the machine is busy before the bench starts (load average ${loadAverageAtStart.join(' ')}): figures will be noisy`);

  const upstream = await startUpstream(ctx, Math.max(...scenarios.map((s) => s.instances)));
  log(`upstream (uWebSockets.js) on 127.0.0.1 ports ${upstream.ports.join(', ')}`);
  const scenarioResults: ScenarioResult[] = [];
  const failures: string[] = [];
  try {
    for (const scenario of scenarios) {
      log(`scenario ${scenario.name}: ${scenario.title}`);
      const run = await runScenario(scenario, adapters, upstream, ctx, options, workDir, resultsDir, https);
      run.result.skipped.unshift(...unavailable);
      scenarioResults.push(run.result);
      failures.push(...run.failures);
      if (upstream.process.hasExited) throw new Error(`the upstream exited during ${scenario.name}; its output:\n${upstream.process.output()}`);
    }
  } finally {
    await upstream.process.stop();
  }

  const result: RunResult = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    smoke: options.smoke,
    note: options.note,
    machine: { ...machineFacts(), loadAverageAtStart, loadAverageAtEnd: loadAverage() },
    versions: toolVersions(tools, root),
    options: { durationSec: options.durationSec, warmupSec: options.warmupSec, rounds: options.rounds, connections: options.connections, threads: options.threads, proxyThreads: options.proxyThreads, proxies: adapters.map((a) => a.name), profile: options.profile },
    pinning: cpus.description,
    scenarios: scenarioResults,
  };
  const jsonFile = path.join(outRoot, `${stamp}.json`);
  writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n');
  const mdFile = writeReport(result, jsonFile);
  rmSync(workDir, { recursive: true, force: true });
  log(`report: ${path.relative(process.cwd(), mdFile)}`);

  if (failures.length > 0) {
    log(`${failures.length} problem(s):\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    return 1;
  }
  if (options.smoke) {
    const measured = scenarioResults.flatMap((s) => s.measurements.map((m) => m.proxy));
    log(`smoke OK: ${[...new Set(measured)].join(', ')} measured without errors (speed not asserted)`);
  }
  return 0;
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the processes the bench started`);
    void stopAll().then(() => process.exit(130));
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof BenchSetupError) log(error.message);
    else log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
    void stopAll();
  },
);
