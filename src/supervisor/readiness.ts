/**
 * Readiness probes for a starting unit: an instance is ready when its address
 * accepts a connection, or, when the upstream has a health check, when its
 * health path answers with a status in the expected range.
 *
 * @module
 */

import net from 'node:net';
import http from 'node:http';
import type { InstanceAddress } from '../config/types.js';
import type { ProbeHealth } from './protocol.js';

/**
 * Tries one TCP or Unix connection: `'open'` when it opens within `timeoutMs`,
 * otherwise the error code (`ECONNREFUSED`, `ENOENT`, ...) or `'TIMEOUT'`.
 */
export function connectOutcome(address: InstanceAddress, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = address.kind === 'tcp' ? net.connect({ host: address.host, port: address.port }) : net.connect({ path: address.socketPath });
    const finish = (outcome: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('TIMEOUT'), timeoutMs);
    socket.once('connect', () => finish('open'));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? 'ERROR'));
  });
}

/** Resolves true when a TCP or Unix connection to `address` opens within `timeoutMs`. */
export async function probeConnect(address: InstanceAddress, timeoutMs: number): Promise<boolean> {
  return (await connectOutcome(address, timeoutMs)) === 'open';
}

/** Resolves true when GET `health.path` on `address` answers within the timeout with an expected status. */
export function probeHealth(address: InstanceAddress, health: ProbeHealth): Promise<boolean> {
  return new Promise((resolve) => {
    const target = address.kind === 'tcp' ? { host: address.host, port: address.port } : { socketPath: address.socketPath };
    // agent: false so that no keep-alive socket outlives the probe.
    const request = http.request({ ...target, path: health.path, method: 'GET', agent: false, headers: { 'user-agent': 'warpdrive-supervisor' } });
    const timer = setTimeout(() => request.destroy(), health.timeoutMs);
    request.once('response', (response) => {
      clearTimeout(timer);
      const status = response.statusCode ?? 0;
      response.resume();
      request.destroy();
      resolve(status >= health.expectStatusMin && status <= health.expectStatusMax);
    });
    request.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    request.end();
  });
}

/** One probe of one instance, by the unit's rule. */
export function probeInstance(address: InstanceAddress, health: ProbeHealth | undefined, timeoutMs: number): Promise<boolean> {
  return health ? probeHealth(address, health) : probeConnect(address, timeoutMs);
}
