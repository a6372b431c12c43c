/**
 * Runtime-plan pieces for upstream tests: an UpstreamSpec with sensible test
 * defaults, pointed at real test servers.
 *
 * @module
 */
import type { InstanceAddress, InstanceSpec, ProcessSpec, Strategy, UpstreamSpec, HealthSpec, PassiveHealthSpec } from '../../src/config/types.js';
import type { TestUpstream } from '../helpers/upstream.js';
import type { Instance } from '../../src/upstream/instance.js';
import type { Upstream } from '../../src/upstream/upstream.js';
import { fromUpstreamError } from '../../src/pipeline/errors.js';

export interface InstanceOptions {
  weight?: number;
  process?: ProcessSpec;
}

/** The address of a running test server (TCP or Unix socket). */
export function addressOf(server: TestUpstream): InstanceAddress {
  return server.socketPath ? { kind: 'unix', socketPath: server.socketPath } : { kind: 'tcp', host: '127.0.0.1', port: server.port };
}

export const fakeProcess: ProcessSpec = Object.freeze({
  command: 'true',
  args: [],
  env: {},
  cwd: undefined,
  dependsOn: [],
  stopTimeoutMs: 1000,
  startTimeoutMs: 1000,
  maxMemoryMb: undefined,
});

export interface SpecOptions {
  name?: string;
  strategy?: Strategy;
  health?: Partial<HealthSpec>;
  passive?: Partial<PassiveHealthSpec>;
  process?: ProcessSpec;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  maxConnectionsPerInstance?: number;
  keepAliveTimeoutMs?: number;
  retries?: number;
}

/** An UpstreamSpec over `addresses`; passive ejection is off unless asked for, so tests opt in. */
export function upstreamSpec(addresses: ReadonlyArray<InstanceAddress | (InstanceOptions & { address: InstanceAddress })>, options: SpecOptions = {}): UpstreamSpec {
  const name = options.name ?? 'pool';
  const instances: InstanceSpec[] = addresses.map((entry, index) => {
    const withOptions = 'address' in entry ? entry : { address: entry };
    return { id: `${name}#${index}`, address: withOptions.address, weight: withOptions.weight ?? 1, process: withOptions.process };
  });
  return {
    name,
    strategy: options.strategy ?? 'round_robin',
    instances,
    health: options.health
      ? { path: '/health', intervalMs: 20, timeoutMs: 200, unhealthyThreshold: 2, healthyThreshold: 2, expectStatusMin: 200, expectStatusMax: 399, ...options.health }
      : undefined,
    passive: { maxFails: 0, failTimeoutMs: 10_000, maxEjectionMs: 300_000, count5xx: false, ...options.passive },
    process: options.process,
    connectTimeoutMs: options.connectTimeoutMs ?? 2_000,
    readTimeoutMs: options.readTimeoutMs ?? 5_000,
    maxConnectionsPerInstance: options.maxConnectionsPerInstance ?? 8,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 4_000,
    retries: options.retries ?? 1,
  };
}

/** Addresses nobody listens on, for selector tests that never dispatch (undici Pools connect lazily). */
export function idleAddresses(count: number): InstanceAddress[] {
  return Array.from({ length: count }, (_, i) => ({ kind: 'tcp', host: '127.0.0.1', port: 1 + i }) as const);
}

/** Collects what warpdrive's logger writes to stderr while `during` runs (the logger's real output, not a mock of it). */
export async function captureStderr<T>(during: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const original = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    const result = await during();
    return { result, lines: text.split('\n').filter(Boolean) };
  } finally {
    process.stderr.write = original;
  }
}

/**
 * One request the way the proxy makes it: select, count it in flight, send it
 * through the instance's own dispatcher, report the outcome. Returns what the
 * server answered, or the outcome when nothing usable came back.
 */
export async function sendThrough(
  upstream: Upstream,
  clientIp = '127.0.0.1',
  path = '/',
): Promise<{ instance: Instance | undefined; status?: number; body?: string; outcome?: string }> {
  const instance = upstream.select(clientIp);
  if (!instance) return { instance };
  instance.requestStarted();
  try {
    const res = await instance.dispatcher.request({ method: 'GET', path });
    const body = await res.body.text();
    const outcome = res.statusCode >= 500 ? 'status_5xx' : 'success';
    instance.requestFinished(outcome);
    return { instance, status: res.statusCode, body, outcome };
  } catch (error) {
    const outcome = fromUpstreamError(error).outcome;
    instance.requestFinished(outcome);
    return { instance, outcome };
  }
}
