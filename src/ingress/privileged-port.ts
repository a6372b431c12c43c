/**
 * Why a listen on a low port failed. uWS reports only "could not listen", which
 * warpdrive otherwise explains as a port in use; on Linux a port below
 * `net.ipv4.ip_unprivileged_port_start` (1024 by default) also needs root or the
 * CAP_NET_BIND_SERVICE capability, and a user starting warpdrive on port 80 as
 * themselves deserves that answer instead. Read once, at a failed start only.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** Bit of CAP_NET_BIND_SERVICE in the capability masks of /proc/self/status. */
const CAP_NET_BIND_SERVICE = 10n;

function readOr<T>(file: string, parse: (text: string) => T | undefined, fallback: T): T {
  try {
    return parse(readFileSync(file, 'utf8')) ?? fallback;
  } catch {
    return fallback;
  }
}

/**
 * True when this process may not bind `port` for lack of privilege: Linux, a port
 * below the unprivileged start, and CAP_NET_BIND_SERVICE not in the effective set.
 * False elsewhere (no /proc to ask): the caller then gives its usual explanation.
 */
export function lacksPrivilegeFor(port: number): boolean {
  if (process.platform !== 'linux' || port === 0) return false;
  const unprivilegedStart = readOr('/proc/sys/net/ipv4/ip_unprivileged_port_start', (text) => Number.parseInt(text, 10), 1024);
  if (port >= unprivilegedStart) return false;
  const effective = readOr('/proc/self/status', (text) => /^CapEff:\s*([0-9a-f]+)$/m.exec(text)?.[1], undefined);
  if (effective === undefined) return false;
  return (BigInt(`0x${effective}`) & (1n << CAP_NET_BIND_SERVICE)) === 0n;
}
