/**
 * Test helpers for the supervisor: a small real child server (configured by
 * env), hand-made RuntimePlan fixtures, an event recorder and /proc checks.
 *
 * @module
 */

import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tempDir } from '../helpers/upstream.js';
import type { InstanceAddress, InstanceSpec, ProcessSpec, RuntimePlan, UpstreamSpec, HealthSpec } from '../../src/config/types.js';
import type { SupervisorClient } from '../../src/supervisor/client.js';
import type { SupervisorEvent } from '../../src/supervisor/protocol.js';
import { groupMembers } from '../../src/supervisor/process-group.js';

/**
 * The child: an HTTP server on LISTEN (a port number or a socket path) that
 * appends `<monotonic ns> <NAME> <event>` lines to RECORD. process.hrtime is
 * CLOCK_MONOTONIC, one clock for every process on the machine, so lines from
 * different children order correctly. Behaviour knobs (all optional):
 * LISTEN_DELAY_MS, NEVER_LISTEN, IGNORE_TERM, EXIT_AFTER_READY_MS + CRASH_TIMES
 * (+ COUNTER file: crash only the first CRASH_TIMES runs), EXIT_AT_ONCE,
 * GRANDCHILD (file to write a grandchild's pid to), HEALTH_FAIL_FIRST (health
 * answers 503 that many times), ALLOC_MB, CONNECT_TO (port or socket that must
 * accept before this child listens), PRINT (a line to print at start).
 * A request to /crash makes it exit with code 1 at once.
 */
const childSource = `
import http from 'node:http';
import net from 'node:net';
import { appendFileSync, readFileSync, writeFileSync, existsSync, unlinkSync } from 'node:fs';
import { spawn } from 'node:child_process';
const env = process.env;
const name = env.NAME ?? 'child';
const record = (event) => { if (env.RECORD) appendFileSync(env.RECORD, process.hrtime.bigint() + ' ' + name + ' ' + event + '\\n'); };
record('spawn pid=' + process.pid);
if (env.PRINT) console.log(env.PRINT);
if (env.EXIT_AT_ONCE) { console.error('boom: exiting at once'); process.exit(Number(env.EXIT_AT_ONCE)); }
let runs = 0;
if (env.COUNTER) { runs = existsSync(env.COUNTER) ? Number(readFileSync(env.COUNTER, 'utf8')) : 0; writeFileSync(env.COUNTER, String(runs + 1)); }
if (env.ALLOC_MB) { globalThis.hog = Buffer.alloc(Number(env.ALLOC_MB) * 1024 * 1024, 1); }
if (env.GRANDCHILD) {
  const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  writeFileSync(env.GRANDCHILD, String(g.pid));
}
let healthFailures = Number(env.HEALTH_FAIL_FIRST ?? 0);
const server = http.createServer((req, res) => {
  if (req.url === '/crash') { console.error('crashing on request'); process.exit(1); }
  if (req.url === '/health') {
    if (healthFailures > 0) { healthFailures--; res.writeHead(503); res.end('starting'); return; }
    record('health-ok');
  }
  record('request ' + req.url);
  res.end(name + ' ' + process.pid);
});
process.on('SIGTERM', () => {
  record('term');
  if (env.IGNORE_TERM) return;
  server.close();
  record('exit');
  process.exit(0);
});
const connectFirst = (done) => {
  if (!env.CONNECT_TO) return done();
  const target = /^\\d+$/.test(env.CONNECT_TO) ? { port: Number(env.CONNECT_TO), host: '127.0.0.1' } : { path: env.CONNECT_TO };
  const s = net.connect(target);
  s.once('connect', () => { record('dependency-reachable'); s.destroy(); done(); });
  s.once('error', (e) => { record('dependency-unreachable ' + e.code); console.error('dependency unreachable'); process.exit(3); });
};
const listen = () => {
  if (env.NEVER_LISTEN) { console.log('never listening'); setInterval(() => {}, 1000); return; }
  const where = /^\\d+$/.test(env.LISTEN) ? [Number(env.LISTEN), '127.0.0.1'] : [env.LISTEN];
  if (where.length === 1 && existsSync(where[0])) unlinkSync(where[0]);
  server.listen(...where, () => {
    record('listening');
    console.log('listening on ' + env.LISTEN);
    if (env.EXIT_AFTER_READY_MS && runs < Number(env.CRASH_TIMES ?? Infinity)) {
      setTimeout(() => { console.error('crashing on purpose, run ' + runs); process.exit(1); }, Number(env.EXIT_AFTER_READY_MS));
    }
  });
};
connectFirst(() => setTimeout(listen, Number(env.LISTEN_DELAY_MS ?? 0)));
`;

let childScriptPath: string | undefined;

/** Path of the child server script (written once per test process). */
export function childScript(): string {
  if (!childScriptPath) {
    childScriptPath = path.join(tempDir('wd-sup-child-'), 'child.mjs');
    writeFileSync(childScriptPath, childSource);
  }
  return childScriptPath;
}

/** A TCP port that was free a moment ago (the supervisor needs addresses before children exist). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function tcp(port: number): Extract<InstanceAddress, { kind: 'tcp' }> {
  return { kind: 'tcp', host: '127.0.0.1', port };
}
export function unix(socketPath: string): Extract<InstanceAddress, { kind: 'unix' }> {
  return { kind: 'unix', socketPath };
}
/** LISTEN value for the child from an address. */
export function listenOf(address: InstanceAddress): string {
  return address.kind === 'tcp' ? String(address.port) : address.socketPath;
}

/** A ProcessSpec running the child server with `env`. */
export function childProcess(env: Record<string, string>, overrides: Partial<ProcessSpec> = {}): ProcessSpec {
  return {
    command: process.execPath,
    args: [childScript()],
    env,
    cwd: undefined,
    dependsOn: [],
    stopTimeoutMs: 3_000,
    startTimeoutMs: 15_000,
    maxMemoryMb: undefined,
    ...overrides,
  };
}

export function instance(id: string, address: InstanceAddress, process?: ProcessSpec): InstanceSpec {
  return { id, address, weight: 1, process };
}

export function upstream(name: string, instances: InstanceSpec[], process?: ProcessSpec, health?: Partial<HealthSpec>): UpstreamSpec {
  return {
    name,
    strategy: 'round_robin',
    instances,
    health: health
      ? { path: '/health', intervalMs: 1_000, timeoutMs: 1_000, unhealthyThreshold: 3, healthyThreshold: 2, expectStatusMin: 200, expectStatusMax: 399, ...health }
      : undefined,
    passive: { maxFails: 0, failTimeoutMs: 10_000, maxEjectionMs: 60_000, count5xx: false },
    process,
    connectTimeoutMs: 1_000,
    readTimeoutMs: 10_000,
    maxConnectionsPerInstance: 16,
    keepAliveTimeoutMs: 4_000,
    retries: 1,
  };
}

/** A hand-made plan (config's compile() will produce these once it lands). */
export function planOf(upstreams: UpstreamSpec[], processOrder: string[]): RuntimePlan {
  return {
    source: 'test',
    server: { bindAddress: '127.0.0.1', httpPort: 0, httpsPort: undefined, workerThreads: 1, maxHeaderBytes: 16_384, maxBodyBytes: undefined, shutdownTimeoutMs: 5_000, idleTimeoutMs: 10_000 },
    tls: undefined,
    upstreams: new Map(upstreams.map((u) => [u.name, u])),
    routes: [],
    cache: undefined,
    postgres: undefined,
    middleware: { forwardHeaders: true, trustedProxies: [], xSendfileEnabled: false, xSendfile: undefined, gzipCompressionEnabled: false, compression: undefined, staticCacheBytes: 0, logRequests: false, adminToken: undefined },
    processOrder,
  };
}

/** Fast crash policy for tests: short delays, a window long enough to count every crash of a test. */
export const fastRestart = { baseDelayMs: 100, maxDelayMs: 1_000, stableAfterMs: 60_000, maxCrashes: 4, crashWindowMs: 60_000 };

export interface RecordedEvent {
  readonly at: bigint;
  readonly event: SupervisorEvent;
}

/** Records every event of a client with the (machine-wide monotonic) time it arrived. */
export class EventLog {
  readonly events: RecordedEvent[] = [];
  #waiters: Array<{ predicate: (e: SupervisorEvent) => boolean; resolve: (e: RecordedEvent) => void; from: number }> = [];

  constructor(client: SupervisorClient) {
    client.on((event) => {
      const recorded = { at: process.hrtime.bigint(), event };
      this.events.push(recorded);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.predicate(event)) return true;
        w.resolve(recorded);
        return false;
      });
    });
  }

  /** The next (or an already recorded, from index `from`) event matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (e: SupervisorEvent) => boolean, timeoutMs = 20_000, from = 0): Promise<RecordedEvent> {
    const existing = this.events.slice(from).find((r) => predicate(r.event));
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`event not seen within ${timeoutMs} ms; events so far:\n${this.describe()}`)), timeoutMs);
      this.#waiters.push({
        predicate,
        from,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Like waitFor, by type and unit, with the event typed. */
  async next<T extends SupervisorEvent['type']>(type: T, unit?: string, timeoutMs = 20_000, from = 0): Promise<{ at: bigint; event: Extract<SupervisorEvent, { type: T }> }> {
    const recorded = await this.waitFor(isEvent(type, unit), timeoutMs, from);
    return recorded as { at: bigint; event: Extract<SupervisorEvent, { type: T }> };
  }

  of<T extends SupervisorEvent['type']>(type: T, unit?: string): Array<Extract<SupervisorEvent, { type: T }>> {
    return this.events
      .map((r) => r.event)
      .filter((e): e is Extract<SupervisorEvent, { type: T }> => e.type === type && (unit === undefined || ('unit' in e && e.unit === unit)));
  }

  describe(): string {
    return this.events.map((r) => JSON.stringify(r.event)).join('\n');
  }
}

export function isEvent<T extends SupervisorEvent['type']>(type: T, unit?: string): (e: SupervisorEvent) => boolean {
  return (e) => e.type === type && (unit === undefined || ('unit' in e && e.unit === unit));
}

export interface ChildRecord {
  readonly at: bigint;
  readonly name: string;
  readonly event: string;
}

/** The lines children appended to a record file. */
export function readRecord(file: string): ChildRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at, name, ...rest] = line.split(' ');
      return { at: BigInt(at!), name: name!, event: rest.join(' ') };
    });
}

export function firstRecord(records: readonly ChildRecord[], name: string, event: string): ChildRecord {
  const found = records.find((r) => r.name === name && r.event.startsWith(event));
  if (!found) throw new Error(`no "${event}" recorded by ${name}; records:\n${records.map((r) => `${r.name} ${r.event}`).join('\n')}`);
  return found;
}

/** Whether a pid is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Polls /proc until none of `pids` is alive; returns the survivors after `timeoutMs`. */
export async function survivorsAfter(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Live members of the given process groups (the units' groups: guards, grandchildren and all). */
export function liveGroupMembers(pgids: readonly number[]): number[] {
  return [...groupMembers(new Set(pgids)).values()].flat();
}

/** Asks a child to crash (GET /crash); the connection dying is the expected answer. */
export function requestCrash(address: InstanceAddress): Promise<void> {
  return new Promise((resolve) => {
    const target = address.kind === 'tcp' ? { host: address.host, port: address.port } : { socketPath: address.socketPath };
    const request = http.get({ ...target, path: '/crash', agent: false }, (response) => {
      response.resume();
      response.once('close', () => resolve());
    });
    request.once('error', () => resolve());
  });
}

export function recordFile(): string {
  return path.join(tempDir('wd-sup-rec-'), 'record.log');
}
