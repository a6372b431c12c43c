/**
 * Small, hot files kept in memory, so that serving one costs a Map lookup instead
 * of the system calls of a lookup (stat, open, fstat, readlink, read, close, and a
 * stat per precompressed sibling): a third of the CPU per request of an uncached
 * small file, measured (native-notes/files.md).
 *
 * - Bounded: files up to `maxFileBytes`, `maxBytes` in all; least recently used
 *   entries go first.
 * - Fresh: an entry older than `revalidateMs` (1 s by default, nginx's
 *   `open_file_cache_valid` idea) is checked with one `stat` when next used; a file
 *   whose inode, size or modification time changed is dropped and loaded again
 *   through the whole confinement check. A file replaced during a deploy is
 *   therefore served as it was for at most that long.
 * - Per proxy thread, kept across reloads while `static_cache_mb` stays the same
 *   (entries are keyed by absolute path and checked against the disk anyway;
 *   ThreadServices holds it). Nothing crosses threads: N threads may hold N copies
 *   of a hot file, bounded by N x maxBytes.
 *
 * @module
 */
import { statSync } from 'node:fs';
import type { Validators } from './conditional.js';

/** One cached file. */
export interface CachedFile {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly validators: Validators;
  readonly body: Buffer;
  /** Which precompressed siblings exist (`Sibling` bits, static-files.ts), learnt when the file was loaded. */
  readonly siblings: number;
  /**
   * The body compressed once by warpdrive, by ContentCoding (1 gzip, 2 brotli), for
   * compressible files without precompressed siblings (see static-files.ts).
   */
  readonly compressed: (Buffer | undefined)[];
  checkedAt: number;
}

function entryBytes(entry: CachedFile): number {
  let bytes = entry.body.length;
  for (const variant of entry.compressed) if (variant !== undefined) bytes += variant.length;
  return bytes;
}

export interface SmallFileCacheOptions {
  readonly maxBytes: number;
  readonly maxFileBytes: number;
  readonly revalidateMs?: number;
  /** The clock (tests pass their own). */
  readonly now?: () => number;
}

export class SmallFileCache {
  readonly maxBytes: number;
  readonly maxFileBytes: number;
  readonly #revalidateMs: number;
  readonly #now: () => number;
  /** Insertion order is recency order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, CachedFile>();
  #bytes = 0;

  constructor(options: SmallFileCacheOptions) {
    this.maxBytes = options.maxBytes;
    this.maxFileBytes = Math.min(options.maxFileBytes, options.maxBytes);
    this.#revalidateMs = options.revalidateMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry for an absolute path, if cached and still the file on disk. */
  get(path: string): CachedFile | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    const now = this.#now();
    if (now - entry.checkedAt >= this.#revalidateMs) {
      const stats = statSync(path, { throwIfNoEntry: false });
      if (stats === undefined || !stats.isFile() || stats.ino !== entry.ino || stats.size !== entry.size || stats.mtimeMs !== entry.mtimeMs) {
        this.#delete(path, entry);
        return undefined;
      }
      entry.checkedAt = now;
    }
    // Most recently used goes last.
    this.#entries.delete(path);
    this.#entries.set(path, entry);
    return entry;
  }

  /** True when a file of this size may be cached. */
  accepts(size: number): boolean {
    return size <= this.maxFileBytes;
  }

  /** Caches `entry` (its body must be at most maxFileBytes), evicting the least recently used. */
  set(path: string, entry: Omit<CachedFile, 'checkedAt' | 'compressed'>): CachedFile {
    const cached: CachedFile = { ...entry, compressed: [], checkedAt: this.#now() };
    const previous = this.#entries.get(path);
    if (previous !== undefined) this.#delete(path, previous);
    if (!this.accepts(cached.body.length)) return cached;
    for (const [oldPath, old] of this.#entries) {
      if (this.#bytes + cached.body.length <= this.maxBytes) break;
      this.#delete(oldPath, old);
    }
    this.#entries.set(path, cached);
    this.#bytes += cached.body.length;
    return cached;
  }

  /**
   * Keeps a compressed form of a cached entry with it (counted in maxBytes). An entry
   * evicted in the meantime is left alone: the caller uses `bytes` for its one response.
   */
  attachCompressed(path: string, entry: CachedFile, coding: number, bytes: Buffer): void {
    if (this.#entries.get(path) !== entry || entry.compressed[coding] !== undefined) return;
    entry.compressed[coding] = bytes;
    this.#bytes += bytes.length;
    for (const [oldPath, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      if (old !== entry) this.#delete(oldPath, old);
    }
  }

  #delete(path: string, entry: CachedFile): void {
    this.#entries.delete(path);
    this.#bytes -= entryBytes(entry);
  }
}
