/**
 * Which direct peers may hand us an X-Forwarded-* chain.
 *
 * Built once from `middleware.trusted_proxies` (exact addresses and CIDRs, IPv4 and
 * IPv6); asked per request only when forwarded headers are on.
 *
 * @module
 */
import { isIP } from 'node:net';

interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefixBits: number;
}

/** Parses an IPv4 or IPv6 address to bytes (16 for v6, 4 for v4); undefined if invalid. */
export function addressBytes(address: string): Uint8Array | undefined {
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split('.').map(Number));
  if (family !== 6) return undefined;
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = rest === undefined ? [] : rest ? rest.split(':') : [];
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups].map((g) => parseInt(g, 16));
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 255;
  });
  return bytes;
}

function parseCidr(entry: string): Cidr {
  const [address = '', bits] = entry.split('/');
  const bytes = addressBytes(address);
  if (!bytes) throw new Error(`invalid trusted proxy address "${entry}"`);
  const prefixBits = bits === undefined ? bytes.length * 8 : Number(bits);
  if (!Number.isInteger(prefixBits) || prefixBits < 0 || prefixBits > bytes.length * 8) {
    throw new Error(`invalid prefix length in trusted proxy "${entry}"`);
  }
  return { bytes, prefixBits };
}

function inCidr(bytes: Uint8Array, cidr: Cidr): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  let bits = cidr.prefixBits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}

/** A predicate over client addresses, compiled from the configured list. */
export class TrustedProxies {
  readonly #cidrs: readonly Cidr[];
  /** Answers cached per address: a front door sees few distinct proxy peers. */
  readonly #cache = new Map<string, boolean>();

  constructor(entries: readonly string[]) {
    this.#cidrs = entries.map(parseCidr);
  }

  get isEmpty(): boolean {
    return this.#cidrs.length === 0;
  }

  isTrusted(address: string): boolean {
    if (this.#cidrs.length === 0) return false;
    const cached = this.#cache.get(address);
    if (cached !== undefined) return cached;
    const bytes = addressBytes(address);
    const trusted = bytes !== undefined && this.#cidrs.some((cidr) => inCidr(bytes, cidr));
    if (this.#cache.size > 10_000) this.#cache.clear(); // bound memory against address sprays
    this.#cache.set(address, trusted);
    return trusted;
  }
}
