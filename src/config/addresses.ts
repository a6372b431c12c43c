/**
 * Address syntax shared by the schema and the env parser: IPs, CIDRs, hostnames,
 * HTTP tokens and health status ranges.
 *
 * @module
 */

import { isIP } from 'node:net';

/** An exact IPv4/IPv6 address or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export function isIpOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash === -1) return isIP(text) !== 0;
  const family = isIP(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (family === 0 || !/^[0-9]{1,3}$/.test(bitsText)) return false;
  return Number(bitsText) <= (family === 4 ? 32 : 128);
}

/** Where warpdrive can listen: an IP address, or `localhost`. */
export function isBindAddress(text: string): boolean {
  return isIP(text) !== 0 || text === 'localhost';
}

const label = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
/** Lowercase hostname, optionally with one leading `*.` wildcard label. */
const hostPattern = new RegExp(`^(?:\\*\\.)?${label}(?:\\.${label})*$`);

/** An upstream host: an IP address (v6 without brackets) or a DNS name; no scheme, port or path. */
export function isUpstreamHost(text: string): boolean {
  return isIP(text) !== 0 || /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(text);
}

/** A route host pattern after lowercasing: `api.example.com` or `*.example.com`. */
export function isHostPattern(text: string): boolean {
  return hostPattern.test(text);
}

/** RFC 9110 token: what method and header names are made of. */
export const httpToken = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Header values may not carry control characters other than tab: CR and LF would
 * split the request, and undici refuses every other one when the request is sent
 * (which would fail every request of the route). Characters outside ASCII are
 * fine: they are sent as UTF-8.
 */
export function isSafeHeaderValue(text: string): boolean {
  return !/[\x00-\x08\x0a-\x1f\x7f]/.test(text);
}

/** Where the admin listener listens: TCP `host:port`, or a Unix socket path. */
export type AdminListenAddress = { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly socketPath: string };

/**
 * `"127.0.0.1:9180"`, `"[::1]:9180"`, `"localhost:9180"` -> TCP; a path (containing
 * "/" or ending in ".sock") -> a Unix socket, as written (relative paths are
 * resolved by compile()). Undefined when it is neither.
 */
export function parseAdminListen(text: string): AdminListenAddress | undefined {
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(text);
  const v4 = v6 === null ? /^([^:/\s\[\]]+):([0-9]{1,5})$/.exec(text) : null;
  const match = v6 ?? v4;
  if (match !== null) {
    const host = match[1]!;
    const port = Number(match[2]);
    // Port 0: any free port (tests); the listener logs the one it got.
    if (!isBindAddress(host) || port > 65535) return undefined;
    return { kind: 'tcp', host, port };
  }
  if (text.includes('/') || text.endsWith('.sock')) return { kind: 'unix', socketPath: text };
  return undefined;
}

/** Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
}

/** `"200-399"`, `"200"` or `200` -> inclusive range; undefined when malformed. */
export function parseStatusRange(spec: string | number): { min: number; max: number } | undefined {
  const text = String(spec).trim();
  const match = /^([1-5][0-9][0-9])(?:\s*-\s*([1-5][0-9][0-9]))?$/.exec(text);
  if (match === null) return undefined;
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  return min <= max ? { min, max } : undefined;
}
