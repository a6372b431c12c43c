/**
 * The memory tier (L1): stored responses of one proxy thread, bounded in bytes,
 * least recently used first out.
 *
 * Every entry counts its header and body bytes exactly, plus a fixed estimate of
 * what holding them costs (cached-response.ts), against `capacityBytes`; an
 * insert evicts from the cold end until the new entry fits. Entries larger than
 * `maxObjectBytes` are refused. A hit moves its entry to the warm end: four
 * pointer writes, no allocation.
 *
 * One URL can hold several entries when its responses vary (Vary); a lookup
 * picks the one whose recorded request headers match, the most recent (by Date)
 * if several do (RFC 9111 4). Invalidations by path and by tag use indexes; a
 * prefix scans every entry.
 *
 * @module
 */
import { CachedResponse } from './cached-response.js';
import { matchesInvalidation, type InvalidationPattern } from './invalidation-pattern.js';
import { varyMatches } from './vary.js';

/** Several variants of one URL (responses with Vary). */
class VariantList {
  readonly entries: CachedResponse[] = [];
}

type Slot = CachedResponse | VariantList;

function sameVariant(a: CachedResponse, b: CachedResponse): boolean {
  if (a.varyNames === undefined || b.varyNames === undefined) return false;
  if (a.varyNames.length !== b.varyNames.length) return false;
  for (let i = 0; i < a.varyNames.length; i++) {
    if (a.varyNames[i] !== b.varyNames[i] || a.varyValues![i] !== b.varyValues![i]) return false;
  }
  return true;
}

/**
 * Index values are the entry itself while a key has one (the common case: most
 * paths hold one response), a Set only from the second on: a Set per path
 * would cost more than many small responses.
 */
type IndexSlot = CachedResponse | Set<CachedResponse>;

function addToIndex(index: Map<string, IndexSlot>, key: string, entry: CachedResponse): void {
  const slot = index.get(key);
  if (slot === undefined) index.set(key, entry);
  else if (slot instanceof Set) slot.add(entry);
  else if (slot !== entry) index.set(key, new Set([slot, entry]));
}

function removeFromIndex(index: Map<string, IndexSlot>, key: string, entry: CachedResponse): void {
  const slot = index.get(key);
  if (slot === entry) index.delete(key);
  else if (slot instanceof Set) {
    slot.delete(entry);
    if (slot.size === 1) index.set(key, slot.values().next().value!);
  }
}

function indexed(index: Map<string, IndexSlot>, key: string): CachedResponse[] {
  const slot = index.get(key);
  return slot === undefined ? [] : slot instanceof Set ? [...slot] : [slot];
}

/** URL parts of a primary key `scheme://host/target`. */
function splitKey(key: string): [scheme: string, host: string, target: string] {
  const colon = key.indexOf('://');
  const slash = key.indexOf('/', colon + 3);
  return [key.slice(0, colon), key.slice(colon + 3, slash), key.slice(slash)];
}

/**
 * Slots by host, then by target (path with query): looking up the request's own
 * host and path strings hashes each once, where a concatenated URL would be
 * flattened and hashed anew on every request (measured: most of a hit's cost).
 */
class SlotTable {
  readonly #hosts = new Map<string, Map<string, Slot>>();

  get(host: string, target: string): Slot | undefined {
    return this.#hosts.get(host)?.get(target);
  }

  set(host: string, target: string, slot: Slot): void {
    let targets = this.#hosts.get(host);
    if (targets === undefined) this.#hosts.set(host, (targets = new Map()));
    targets.set(target, slot);
  }

  delete(host: string, target: string): void {
    const targets = this.#hosts.get(host);
    if (targets === undefined) return;
    targets.delete(target);
    if (targets.size === 0) this.#hosts.delete(host);
  }

  clear(): void {
    this.#hosts.clear();
  }
}

export class MemoryStore {
  readonly capacityBytes: number;
  readonly maxObjectBytes: number;
  /** One table per scheme: `http`, and `https` once warpdrive terminates TLS. */
  readonly #http = new SlotTable();
  readonly #https = new SlotTable();
  readonly #byPath = new Map<string, IndexSlot>();
  readonly #byTag = new Map<string, IndexSlot>();
  /** Most recently used end of the LRU list. */
  #newest: CachedResponse | null = null;
  /** Least recently used end: evicted first. */
  #oldest: CachedResponse | null = null;
  #usedBytes = 0;
  #entries = 0;
  #evictions = 0;

  constructor(capacityBytes: number, maxObjectBytes: number) {
    this.capacityBytes = capacityBytes;
    this.maxObjectBytes = Math.min(maxObjectBytes, capacityBytes);
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  get entryCount(): number {
    return this.#entries;
  }

  /** Entries dropped to make room since the store was created. */
  get evictions(): number {
    return this.#evictions;
  }

  #table(scheme: string): SlotTable {
    return scheme === 'https' ? this.#https : this.#http;
  }

  #slotOf(entry: CachedResponse): Slot | undefined {
    return this.#table(entry.scheme).get(entry.host, entry.target);
  }

  #setSlot(entry: CachedResponse, slot: Slot | undefined): void {
    const table = this.#table(entry.scheme);
    if (slot === undefined) table.delete(entry.host, entry.target);
    else table.set(entry.host, entry.target, slot);
  }

  /** Whether any entry is stored for the URL, whatever its variants. */
  has(scheme: string, host: string, target: string): boolean {
    return this.#table(scheme).get(host, target) !== undefined;
  }

  /** `lookup` by primary key (`scheme://host/target`). */
  lookupKey(key: string, requestHeaders: readonly string[]): CachedResponse | undefined {
    const [scheme, host, target] = splitKey(key);
    return this.lookup(scheme, host, target, requestHeaders);
  }

  /**
   * The entry for the URL whose Vary headers match `requestHeaders`, or
   * undefined. `target` is the path, with `?query` when there is one. A hit
   * becomes the most recently used entry. Freshness is the caller's business.
   */
  lookup(scheme: string, host: string, target: string, requestHeaders: readonly string[]): CachedResponse | undefined {
    const slot = this.#table(scheme).get(host, target);
    if (slot === undefined) return undefined;
    let found: CachedResponse | undefined;
    if (slot instanceof CachedResponse) {
      if (slot.varyNames === undefined || varyMatches(slot.varyNames, slot.varyValues!, requestHeaders)) found = slot;
    } else {
      for (const entry of slot.entries) {
        if (varyMatches(entry.varyNames!, entry.varyValues!, requestHeaders) && (found === undefined || entry.dateMs > found.dateMs)) found = entry;
      }
    }
    if (found !== undefined) this.#touch(found);
    return found;
  }

  /**
   * Stores `entry`, replacing what it supersedes (the same variant, or everything
   * for the URL when it does not vary), and evicting the least recently used
   * entries until it fits. False when it is larger than `maxObjectBytes`.
   */
  insert(entry: CachedResponse): boolean {
    if (entry.bytes > this.maxObjectBytes) return false;
    const slot = this.#slotOf(entry);
    if (slot !== undefined) {
      const existing = slot instanceof CachedResponse ? [slot] : [...slot.entries];
      for (const old of existing) {
        if (entry.varyNames === undefined || old.varyNames === undefined || sameVariant(old, entry)) this.remove(old);
      }
    }
    while (this.#usedBytes + entry.bytes > this.capacityBytes && this.#oldest !== null) {
      this.#evictions++;
      this.remove(this.#oldest);
    }

    const current = this.#slotOf(entry);
    if (current === undefined) this.#setSlot(entry, entry);
    else if (current instanceof CachedResponse) {
      const list = new VariantList();
      list.entries.push(current, entry);
      this.#setSlot(entry, list);
    } else current.entries.push(entry);

    addToIndex(this.#byPath, entry.path, entry);
    for (const tag of entry.tags) addToIndex(this.#byTag, tag, entry);
    entry.inMemory = true;
    entry.older = this.#newest;
    entry.newer = null;
    if (this.#newest !== null) this.#newest.newer = entry;
    this.#newest = entry;
    this.#oldest ??= entry;
    this.#usedBytes += entry.bytes;
    this.#entries++;
    return true;
  }

  /** Drops one entry (no-op if it is not stored). */
  remove(entry: CachedResponse): void {
    if (!entry.inMemory) return;
    const slot = this.#slotOf(entry);
    if (slot === entry) this.#setSlot(entry, undefined);
    else if (slot instanceof VariantList) {
      const i = slot.entries.indexOf(entry);
      if (i >= 0) slot.entries.splice(i, 1);
      this.#setSlot(entry, slot.entries.length === 1 ? slot.entries[0]! : slot.entries.length === 0 ? undefined : slot);
    }
    removeFromIndex(this.#byPath, entry.path, entry);
    for (const tag of entry.tags) removeFromIndex(this.#byTag, tag, entry);
    if (entry.newer !== null) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    if (entry.older !== null) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    entry.newer = null;
    entry.older = null;
    entry.inMemory = false;
    this.#usedBytes -= entry.bytes;
    this.#entries--;
  }

  /** Drops every entry the pattern matches; returns how many. */
  invalidate(pattern: InvalidationPattern): number {
    let candidates: Iterable<CachedResponse>;
    if (pattern.kind === 'all') {
      const count = this.#entries;
      this.clear();
      return count;
    }
    if (pattern.kind === 'path') candidates = indexed(this.#byPath, pattern.path);
    else if (pattern.kind === 'tag') candidates = indexed(this.#byTag, pattern.tag);
    else candidates = this.#all();
    let count = 0;
    for (const entry of candidates) {
      if (matchesInvalidation(pattern, entry)) {
        this.remove(entry);
        count++;
      }
    }
    return count;
  }

  clear(): void {
    for (let entry = this.#newest; entry !== null; ) {
      const older: CachedResponse | null = entry.older;
      entry.newer = null;
      entry.older = null;
      entry.inMemory = false;
      entry = older;
    }
    this.#http.clear();
    this.#https.clear();
    this.#byPath.clear();
    this.#byTag.clear();
    this.#newest = null;
    this.#oldest = null;
    this.#usedBytes = 0;
    this.#entries = 0;
  }

  /** A snapshot of every entry, newest first. */
  #all(): CachedResponse[] {
    const all: CachedResponse[] = [];
    for (let entry = this.#newest; entry !== null; entry = entry.older) all.push(entry);
    return all;
  }

  #touch(entry: CachedResponse): void {
    if (this.#newest === entry) return;
    // Unlink (it is not the newest, so it has a newer neighbour).
    entry.newer!.older = entry.older;
    if (entry.older !== null) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    // Relink at the warm end.
    entry.older = this.#newest;
    entry.newer = null;
    this.#newest!.newer = entry;
    this.#newest = entry;
  }
}
