/**
 * Simple mode (no config file) proxies everything to one target from
 * WARPDRIVE_TARGET_*; a typo there, or an app that is not started yet, would
 * otherwise show only as 502s. At start warpdrive tries one connection to the
 * target and, if nothing answers, says so once (a warning: the app may well come
 * up later, and requests then succeed).
 *
 * @module
 */
import net from 'node:net';
import type { InstanceAddress } from '../config/types.js';

/** Tries to connect to `address`; resolves with why it failed, or undefined when something listens. */
export function probeAddress(address: InstanceAddress, timeoutMs = 1_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = address.kind === 'unix' ? net.connect(address.socketPath) : net.connect(address.port, address.host);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === 'ECONNREFUSED' ? 'connection refused' : error.code === 'ENOENT' ? 'no such socket file' : (error.code ?? error.message));
    });
  });
}
