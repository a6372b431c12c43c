/**
 * Targeted cache control (RFC 9213): `CDN-Cache-Control`, a Cache-Control meant
 * for caches like warpdrive and not for browsers, and the older
 * `Surrogate-Control` of the Edge Architecture specification.
 *
 * When a response carries a valid targeted field, warpdrive uses it and ignores
 * Cache-Control and Expires for its own caching (RFC 9213 2.1), so an app can say
 * `Cache-Control: no-store` to browsers and `CDN-Cache-Control: max-age=600` to
 * warpdrive. `CDN-Cache-Control` is a Structured Field Dictionary (RFC 8941): if
 * it does not parse, it is ignored as a whole; a directive whose value has the
 * wrong type (`max-age="60"`) is ignored alone. `Surrogate-Control` uses
 * Cache-Control's own syntax. Both are passed on to the client unchanged.
 *
 * @module
 */
import { CacheDirectives, MAX_DELTA_SECONDS, parseCacheControl } from './cache-control.js';

/** One parsed dictionary member: its key and bare item (parameters are ignored, RFC 9213 2.1). */
type BareItem = { kind: 'integer'; value: number } | { kind: 'boolean'; value: boolean } | { kind: 'other' };

class Invalid extends Error {}

/** A small RFC 8941 dictionary parser: enough to validate the whole field and read integers and booleans. */
class DictionaryParser {
  readonly #s: string;
  #i = 0;

  constructor(s: string) {
    this.#s = s;
  }

  parse(): Map<string, BareItem> {
    const members = new Map<string, BareItem>();
    this.#skipSpaces();
    if (this.#i >= this.#s.length) return members;
    for (;;) {
      const key = this.#key();
      let item: BareItem = { kind: 'boolean', value: true };
      if (this.#peek() === '=') {
        this.#i++;
        item = this.#peek() === '(' ? this.#innerList() : this.#bareItem();
      }
      this.#parameters();
      // Later duplicates overwrite earlier ones (RFC 8941 4.2.2).
      members.set(key, item);
      this.#skipOws();
      if (this.#i >= this.#s.length) return members;
      if (this.#s[this.#i] !== ',') throw new Invalid();
      this.#i++;
      this.#skipOws();
      if (this.#i >= this.#s.length) throw new Invalid(); // trailing comma
    }
  }

  #peek(): string | undefined {
    return this.#s[this.#i];
  }

  #skipSpaces(): void {
    while (this.#s[this.#i] === ' ') this.#i++;
  }

  #skipOws(): void {
    while (this.#s[this.#i] === ' ' || this.#s[this.#i] === '\t') this.#i++;
  }

  #key(): string {
    const start = this.#i;
    if (!/[a-z*]/.test(this.#s[this.#i] ?? '')) throw new Invalid();
    this.#i++;
    while (/[a-z0-9_\-.*]/.test(this.#s[this.#i] ?? '')) this.#i++;
    return this.#s.slice(start, this.#i);
  }

  #parameters(): void {
    while (this.#peek() === ';') {
      this.#i++;
      this.#skipSpaces();
      this.#key();
      if (this.#peek() === '=') {
        this.#i++;
        this.#bareItem();
      }
    }
  }

  #innerList(): BareItem {
    this.#i++; // (
    for (;;) {
      this.#skipSpaces();
      if (this.#peek() === ')') {
        this.#i++;
        return { kind: 'other' };
      }
      this.#bareItem();
      this.#parameters();
      const c = this.#peek();
      if (c !== ' ' && c !== ')') throw new Invalid();
    }
  }

  #bareItem(): BareItem {
    const s = this.#s;
    const c = s[this.#i];
    if (c === undefined) throw new Invalid();
    if (c === '-' || (c >= '0' && c <= '9')) return this.#number();
    if (c === '"') {
      this.#i++;
      for (;;) {
        const ch = s[this.#i++];
        if (ch === undefined) throw new Invalid();
        if (ch === '\\') {
          const next = s[this.#i++];
          if (next !== '"' && next !== '\\') throw new Invalid();
        } else if (ch === '"') return { kind: 'other' };
        else if (ch < ' ' || ch > '~') throw new Invalid();
      }
    }
    if (c === '?') {
      const v = s[this.#i + 1];
      if (v !== '0' && v !== '1') throw new Invalid();
      this.#i += 2;
      return { kind: 'boolean', value: v === '1' };
    }
    if (c === ':') {
      const end = s.indexOf(':', this.#i + 1);
      if (end < 0 || !/^[A-Za-z0-9+/=]*$/.test(s.slice(this.#i + 1, end))) throw new Invalid();
      this.#i = end + 1;
      return { kind: 'other' };
    }
    if (/[A-Za-z*]/.test(c)) {
      this.#i++;
      while (/[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/.test(s[this.#i] ?? '')) this.#i++;
      return { kind: 'other' };
    }
    throw new Invalid();
  }

  #number(): BareItem {
    const m = /^-?(\d{1,15})(\.\d{1,3})?/.exec(this.#s.slice(this.#i));
    // RFC 8941: integers have at most 15 digits, decimals at most 12 before the point.
    if (!m || (m[2] !== undefined && m[1]!.length > 12)) throw new Invalid();
    this.#i += m[0].length;
    if (m[2] !== undefined) return { kind: 'other' };
    return { kind: 'integer', value: Number(m[0]) };
  }
}

/** Integer directives; a value of another type or below 0 is ignored. */
const integerDirectives = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

function toDirectives(members: Map<string, BareItem>): CacheDirectives {
  const d = new CacheDirectives();
  for (const [key, item] of members) {
    if (integerDirectives.has(key)) {
      if (item.kind !== 'integer' || item.value < 0) continue;
      const seconds = Math.min(item.value, MAX_DELTA_SECONDS);
      if (key === 'max-age') d.maxAge = seconds;
      else if (key === 's-maxage') d.sMaxAge = seconds;
      else if (key === 'stale-while-revalidate') d.staleWhileRevalidate = seconds;
      else d.staleIfError = seconds;
      d.recognised++;
      continue;
    }
    // A restrictive directive counts whatever its value (the safe reading); a permissive one only when true.
    const present = item.kind !== 'boolean' || item.value;
    switch (key) {
      case 'no-store':
        d.noStore = present;
        break;
      case 'no-cache':
        d.noCache = present;
        break;
      case 'private':
        d.isPrivate = present;
        break;
      case 'must-revalidate':
        d.mustRevalidate = present;
        break;
      case 'proxy-revalidate':
        d.proxyRevalidate = present;
        break;
      case 'public':
        d.isPublic = item.kind === 'boolean' && item.value;
        break;
      default:
        continue;
    }
    d.recognised++;
  }
  return d;
}

/** `CDN-Cache-Control` field lines -> directives, or undefined when absent or not a valid dictionary. */
export function parseCdnCacheControl(lines: readonly string[]): CacheDirectives | undefined {
  if (lines.length === 0) return undefined;
  try {
    return toDirectives(new DictionaryParser(lines.join(', ')).parse());
  } catch (error) {
    if (error instanceof Invalid) return undefined;
    throw error;
  }
}

/** `Surrogate-Control` field lines -> directives, or undefined when it holds no directive warpdrive knows. */
export function parseSurrogateControl(lines: readonly string[]): CacheDirectives | undefined {
  if (lines.length === 0) return undefined;
  const directives = parseCacheControl(lines);
  return directives.recognised === 0 ? undefined : directives;
}
