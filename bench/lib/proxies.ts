/**
 * The proxies under test, each behind the same small interface: render its
 * config from the scenario's topology, start it on a port of 127.0.0.1 (pinned
 * to the proxy CPU), and stop it. "direct" is the upstream itself, the ceiling.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxCacheDir, renderHaproxy, renderNginx, renderNodePeer, renderWarpdrive, varnishArgs, type RenderedConfig } from './configs.js';
import { freePort, ManagedProcess } from './processes.js';
import type { ToolName, ToolStatus } from './tools.js';
import type { Topology } from './topology.js';
import type { Scenario } from './scenarios.js';

/**
 * In measuring order. `baseline` (another warpdrive build) runs only when --baseline
 * names one; the two `floor-*` reference points only when --proxies names them.
 */
export const PROXY_NAMES = ['warpdrive', 'baseline', 'nginx', 'varnish', 'haproxy', 'node', 'floor-net', 'floor-undici', 'direct'] as const;
export type ProxyName = (typeof PROXY_NAMES)[number];

/** Not proxies but reference points (bench/egress-floor.ts): measured only when asked for. */
export const OPT_IN_PROXIES: ReadonlySet<ProxyName> = new Set(['baseline', 'floor-net', 'floor-undici']);

export interface CpuPlan {
  /** taskset CPU lists, or undefined when the bench runs unpinned. */
  readonly proxy: string | undefined;
  readonly upstream: string | undefined;
  readonly load: string | undefined;
  readonly tasksetPath: string | undefined;
  /** One sentence for the report. */
  readonly description: string;
}

export interface ProxyContext {
  readonly tools: Readonly<Record<ToolName, ToolStatus>>;
  readonly cpus: CpuPlan;
  /** The compiled warpdrive CLI entry. */
  readonly warpdriveMain: string;
  /** Another compiled warpdrive CLI entry to compare against (before/after), if any. */
  readonly baselineMain: string | undefined;
  /** Workers/threads of warpdrive, nginx and HAProxy (`--proxy-threads`); the Node peer always has one. */
  readonly proxyThreads: number;
  /** How long a proxy may take to become ready. */
  readonly startTimeoutMs: number;
  /** Run warpdrive builds under `node --cpu-prof` (profile written when it exits). */
  readonly profile: boolean;
  /** TOML appended to the measured warpdrive's config (not the baseline's). */
  readonly warpdriveExtra?: string | undefined;
}

export interface RunningProxy {
  readonly name: ProxyName;
  readonly port: number;
  /** Root pid to sample for CPU and RSS; undefined for "direct". */
  readonly pid: number | undefined;
  /** The rendered config files on disk (main file first). */
  readonly configFiles: readonly string[];
  readonly process: ManagedProcess | undefined;
  /** Where `--cpu-prof` writes this proxy's profiles, when profiling. */
  readonly profileDir?: string;
  stop(): Promise<void>;
}

export interface ProxyAdapter {
  readonly name: ProxyName;
  /** For tables and charts. */
  readonly label: string;
  /** Why it cannot run here (a missing tool or build), with what to do; undefined when it can. */
  unavailableReason(ctx: ProxyContext): string | undefined;
  start(ctx: ProxyContext, topology: Topology, dir: string, upstreamPid: number | undefined): Promise<RunningProxy>;
  /** Why it does not take part in a scenario (it cannot do what the scenario asks); undefined when it does. */
  unsupportedReason?(scenario: Scenario): string | undefined;
}

/** The compiled bench directory (dist/bench), where the peer and helper entries live. */
export function benchDistDir(): string {
  return path.dirname(path.dirname(fileURLToPath(import.meta.url)));
}

function writeRendered(dir: string, rendered: RenderedConfig): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [path.join(dir, rendered.mainFile)];
  writeFileSync(files[0]!, rendered.text);
  for (const side of rendered.sideFiles) {
    const file = path.join(dir, side.name);
    writeFileSync(file, side.text);
    files.push(file);
  }
  return files;
}

function missingTool(ctx: ProxyContext, tool: ToolName): string | undefined {
  const status = ctx.tools[tool];
  return status.path ? undefined : `${tool} is not installed. Install: ${status.installHint}`;
}

async function startProcess(
  ctx: ProxyContext,
  name: ProxyName,
  command: string,
  args: string[],
  ready: RegExp,
  port: number,
  configFiles: string[],
  env?: NodeJS.ProcessEnv,
): Promise<RunningProxy> {
  const proc = new ManagedProcess({ name, command, args, cpus: ctx.cpus.proxy, tasksetPath: ctx.cpus.tasksetPath, env });
  try {
    await proc.waitForOutput(ready, ctx.startTimeoutMs);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return { name, port, pid: proc.pid, configFiles, process: proc, stop: () => proc.stop() };
}

/** A warpdrive build as a proxy under test; `main` picks which compiled CLI entry. */
function warpdriveAdapter(name: 'warpdrive' | 'baseline', label: string, main: (ctx: ProxyContext) => string | undefined): ProxyAdapter {
  return {
    name,
    label,
    unavailableReason(ctx) {
      const entry = main(ctx);
      if (entry === undefined) return 'no baseline build given; pass --baseline PATH/dist/src/cli/main.js';
      return existsSync(entry) ? undefined : `${label} is not built: ${entry} does not exist. Run: npm run build`;
    },
    async start(ctx, topology, dir) {
      const port = await freePort();
      // HTTPS: the load goes to https_port (`port`); warpdrive always has a plain listener too.
      const plainHttpPort = topology.tls ? await freePort() : undefined;
      const rendered = renderWarpdrive(topology, { port, dir, threads: ctx.proxyThreads, ...(plainHttpPort === undefined ? {} : { plainHttpPort }) });
      const extra = name === 'warpdrive' && ctx.warpdriveExtra !== undefined ? `
${readFileSync(ctx.warpdriveExtra, 'utf8')}` : '';
      const files = writeRendered(dir, { ...rendered, text: rendered.text + extra });
      // The ready line is logged at info level (the https one comes before it); request logging is off in the config.
      const env = { ...process.env, WARPDRIVE_LOG_LEVEL: 'info' };
      const profileDir = ctx.profile ? path.join(dir, 'cpu-profile') : undefined;
      const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      const running = await startProcess(ctx, name, process.execPath, [...nodeFlags, main(ctx)!, '--config', files[0]!], /listening on http:\/\/\S+:\d+/, port, files, env);
      if (!profileDir) return running;
      // V8 writes the profile as the process exits: give the graceful shutdown time to finish.
      return { ...running, profileDir, stop: () => running.process!.stop(15_000) };
    },
  };
}

const warpdrive = warpdriveAdapter('warpdrive', 'warpdrive', (ctx) => ctx.warpdriveMain);
const baseline = warpdriveAdapter('baseline', 'warpdrive (baseline)', (ctx) => ctx.baselineMain);

const nginx: ProxyAdapter = {
  name: 'nginx',
  label: 'nginx',
  unavailableReason: (ctx) => missingTool(ctx, 'nginx'),
  async start(ctx, topology, dir) {
    const port = await freePort();
    const files = writeRendered(dir, renderNginx(topology, { port, dir, threads: ctx.proxyThreads }));
    // -p: its own prefix; -e: errors there too (1.19.5+), never the system log; daemon off: stays our child.
    const args = ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', files[0]!, '-g', 'daemon off;'];
    const proc = new ManagedProcess({ name: 'nginx', command: ctx.tools.nginx.path!, args, cpus: ctx.cpus.proxy, tasksetPath: ctx.cpus.tasksetPath });
    // nginx prints nothing when it starts well, so readiness is the port answering (checked by the caller).
    // The cache scenarios' files live on tmpfs (memory): removed with the process, and on a failed start.
    const removeCache = (): void => rmSync(nginxCacheDir(port), { recursive: true, force: true });
    try {
      await waitForPort(port, proc, ctx.startTimeoutMs, () => `${path.join(dir, 'error.log')}`);
    } catch (error) {
      removeCache();
      throw error;
    }
    return {
      name: 'nginx',
      port,
      pid: proc.pid,
      configFiles: files,
      process: proc,
      stop: async () => {
        await proc.stop();
        removeCache();
      },
    };
  },
};

/** Proxies that take part in the cache scenarios only with a cache of their own; these have none set up. */
function noCacheHere(scenario: Scenario): string | undefined {
  return scenario.cache === undefined ? undefined : 'the cache scenarios compare warpdrive with nginx proxy_cache and Varnish; no cache is set up for this proxy';
}

const varnish: ProxyAdapter = {
  name: 'varnish',
  label: 'Varnish',
  unavailableReason: (ctx) => missingTool(ctx, 'varnishd'),
  unsupportedReason: (scenario) => (scenario.cache === undefined ? 'a cache: it takes part in the cache scenarios only' : undefined),
  async start(ctx, topology, dir) {
    const port = await freePort();
    const args = varnishArgs(topology, { port, dir, threads: ctx.proxyThreads });
    const proc = new ManagedProcess({ name: 'varnish', command: ctx.tools.varnishd.path!, args, cpus: ctx.cpus.proxy, tasksetPath: ctx.cpus.tasksetPath });
    await waitForPort(port, proc, ctx.startTimeoutMs);
    return { name: 'varnish', port, pid: proc.pid, configFiles: [], process: proc, stop: () => proc.stop() };
  },
};

/** The file scenarios compare warpdrive with nginx only: the others have no such feature (or not the same one). */
function noFileFeatures(what: string): (scenario: Scenario) => string | undefined {
  return (scenario) => (scenario.feature === undefined ? undefined : `${what} (the file scenarios compare warpdrive with nginx)`);
}

/** The HTTPS scenarios compare warpdrive, nginx and HAProxy: the others serve plain HTTP only. */
function noHttps(what: string): (scenario: Scenario) => string | undefined {
  return (scenario) => (scenario.https === undefined ? undefined : `${what} (the HTTPS scenarios compare warpdrive, nginx and HAProxy)`);
}

/** The first reason a proxy sits a scenario out, of several. */
function firstReason(...checks: Array<(scenario: Scenario) => string | undefined>): (scenario: Scenario) => string | undefined {
  return (scenario) => {
    for (const check of checks) {
      const reason = check(scenario);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}

const haproxy: ProxyAdapter = {
  name: 'haproxy',
  label: 'HAProxy',
  unavailableReason: (ctx) => missingTool(ctx, 'haproxy'),
  unsupportedReason: (scenario) => noCacheHere(scenario) ?? noFileFeatures('HAProxy serves no files and compresses with its own libslz')(scenario),
  async start(ctx, topology, dir) {
    const port = await freePort();
    const files = writeRendered(dir, renderHaproxy(topology, { port, dir, threads: ctx.proxyThreads }));
    // -db: foreground, no daemon; -f: this config only.
    const proc = new ManagedProcess({ name: 'haproxy', command: ctx.tools.haproxy.path!, args: ['-db', '-f', files[0]!], cpus: ctx.cpus.proxy, tasksetPath: ctx.cpus.tasksetPath });
    await waitForPort(port, proc, ctx.startTimeoutMs);
    return { name: 'haproxy', port, pid: proc.pid, configFiles: files, process: proc, stop: () => proc.stop() };
  },
};

const nodePeer: ProxyAdapter = {
  name: 'node',
  label: 'Node (http-proxy)',
  unsupportedReason: firstReason(noCacheHere, noFileFeatures('the Node.js peer only proxies'), noHttps('the Node.js peer serves plain HTTP only')),
  unavailableReason() {
    const entry = path.join(benchDistDir(), 'node-peer-proxy.js');
    if (!existsSync(entry)) return `the Node.js peer is not built: ${entry} does not exist. Run: npm run build`;
    try {
      // A dev dependency; resolve from the project, as the peer will.
      import.meta.resolve('http-proxy');
      return undefined;
    } catch {
      return 'http-proxy is not installed. Install: npm install -D http-proxy';
    }
  },
  async start(ctx, topology, dir) {
    const port = await freePort();
    const files = writeRendered(dir, renderNodePeer(topology, { port, dir }));
    return startProcess(ctx, 'node', process.execPath, [path.join(benchDistDir(), 'node-peer-proxy.js'), files[0]!], /NODE_PEER_READY \d+/, port, files);
  },
};

/**
 * The egress floors of bench/egress-floor.ts: GET / to one instance and nothing
 * else, so they sit out every scenario that asks for more.
 */
function floorAdapter(name: 'floor-net' | 'floor-undici', client: 'net' | 'undici', label: string): ProxyAdapter {
  return {
    name,
    label,
    unavailableReason() {
      const entry = path.join(benchDistDir(), 'egress-floor.js');
      return existsSync(entry) ? undefined : `the egress floor is not built: ${entry} does not exist. Run: npm run build`;
    },
    unsupportedReason(scenario) {
      const plainGet = scenario.instances === 1 && scenario.routes === undefined && scenario.path === '/' && scenario.tool !== 'ws' && scenario.https === undefined && scenario.cache === undefined;
      return plainGet ? undefined : 'a reference point for plain-HTTP GET / to one instance only (bench/egress-floor.ts)';
    },
    async start(ctx, topology) {
      const port = await freePort();
      const args = [path.join(benchDistDir(), 'egress-floor.js'), '--client', client, String(port), String(topology.upstreamPorts[0]!)];
      return startProcess(ctx, name, process.execPath, args, /FLOOR_READY \d+/, port, []);
    },
  };
}

const floorNet = floorAdapter('floor-net', 'net', 'floor: uWS + net.Socket');
const floorUndici = floorAdapter('floor-undici', 'undici', 'floor: uWS + undici');

const direct: ProxyAdapter = {
  name: 'direct',
  label: 'direct (no proxy)',
  unavailableReason: () => undefined,
  unsupportedReason: firstReason(noFileFeatures('the upstream alone neither compresses nor serves files'), noHttps('the upstream serves plain HTTP only')),
  async start(_ctx, topology) {
    // The first upstream instance itself: no proxy, nothing to sample or stop.
    return { name: 'direct', port: topology.upstreamPorts[0]!, pid: undefined, configFiles: [], process: undefined, stop: async () => {} };
  },
};

export const PROXIES: Readonly<Record<ProxyName, ProxyAdapter>> = {
  warpdrive,
  baseline,
  nginx,
  varnish,
  haproxy,
  node: nodePeer,
  'floor-net': floorNet,
  'floor-undici': floorUndici,
  direct,
};

/** Polls until something accepts TCP connections on the port; fails early if the process exits. */
async function waitForPort(port: number, proc: ManagedProcess, timeoutMs: number, logHint?: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.hasExited) {
      await proc.exited;
      const hint = logHint ? ` (see also ${logHint()})` : '';
      throw new Error(`${proc.name} exited before it listened on 127.0.0.1:${port}${hint}; its output:\n${proc.output()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await proc.stop();
  throw new Error(`${proc.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms; its output:\n${proc.output()}`);
}
