/**
 * Static files for one route (`static_root`): nginx's `try_files $uri $uri/ @app`.
 *
 * For a GET or HEAD whose path names a file under the root, the file is served;
 * for anything else the request is passed on (to the route's upstream, or 404 when
 * the route has none). In detail:
 * - the path the upstream would receive (after `strip_prefix`/`rewrite`) is looked
 *   up under the root; url-path.ts refuses traversal and encoding tricks, and hides
 *   dotfiles (those paths are passed on: the app may answer them);
 * - a directory is served by its `index.html`; asked for without the trailing slash
 *   it is redirected (301) to the path with one, query kept; a directory without an
 *   index is passed on;
 * - a path that exists but may not be served (a symlink out of the root, a device,
 *   a FIFO, a socket, an unreadable file) is *refused*: 404 from warpdrive, logged
 *   by the caller, never passed on (the URL plainly targets the static tree, and
 *   the app has no business serving what the root refuses);
 * - precompressed siblings (`app.css.br`, `app.css.gz`, as `rails assets:precompile`
 *   writes them) are served to clients that accept the coding, with
 *   `Content-Encoding`, the original's Content-Type, and `Vary: Accept-Encoding` on
 *   every response for a file that has siblings;
 * - with compression on, a compressible cached file without siblings is compressed
 *   once per coding and kept with its cache entry (a weak ETag, since warpdrive made
 *   the bytes), so a hot file is never compressed per request; larger files are
 *   left to the compression filter, which streams;
 * - paths matching the fingerprint pattern (`app-3f2a9c1b.css`) get
 *   `Cache-Control: public, max-age=31536000, immutable`; every file has an ETag and
 *   Last-Modified, and conditional and range requests are answered (file-response.ts).
 *
 * @module
 */
import { closeSync, readSync, statSync, type Stats } from 'node:fs';
import type { BodySource } from '../pipeline/body.js';
import { ContentCoding, EncodingNegotiator } from '../compression/accept-encoding.js';
import { compressBuffer, type CompressionLevels } from '../compression/codec-options.js';
import type { CompressionPolicy } from '../compression/compression-policy.js';
import { CachedFileSource } from './cached-file-source.js';
import type { RequestHeaders, Validators } from './conditional.js';
import { contentTypeFor } from './content-type.js';
import { FileBodySource } from './file-body-source.js';
import { buildFileResponse, type FileResponse, type FileResponseExtras } from './file-response.js';
import type { FileRoot } from './file-root.js';
import { describeFileRefusal, openConfined } from './open-confined.js';
import type { CachedFile, SmallFileCache } from './small-file-cache.js';
import { filePathFromUrl } from './url-path.js';
import { fileETag, httpDate, wholeSeconds } from './validators.js';

/** Bits of CachedFile.siblings: which precompressed siblings exist. */
export const enum Sibling {
  Brotli = 1,
  Gzip = 2,
}

export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * The default fingerprint pattern: a `-` and 8 to 128 hex digits (at least one a-f,
 * so `report-20240101.pdf` is not mistaken for a digest) before the extension, as
 * Propshaft (`app-3f2a9c1b.css`), Sprockets (64 digits) and jsbundling's
 * `.digested.js` write them.
 */
export const DEFAULT_FINGERPRINT_PATTERN = '-(?=[0-9]*[a-f])[0-9a-f]{8,128}(?:\\.digested)?\\.[A-Za-z0-9]+(?:\\.map)?$';

export interface StaticFilesOptions {
  readonly root: FileRoot;
  readonly serveDotfiles: boolean;
  /** Paths matching it are immutable (long-lived Cache-Control); undefined: none are. */
  readonly fingerprintPattern: RegExp | undefined;
  readonly cache: SmallFileCache | undefined;
  /** When response compression is on: cached files are compressed once per coding. */
  readonly compression?: { readonly policy: CompressionPolicy; readonly levels: CompressionLevels } | undefined;
}

export type StaticOutcome =
  | {
      readonly kind: 'serve';
      readonly response: FileResponse;
      /** Undefined when the response has no body (HEAD, 304, 412, 416). */
      readonly body: BodySource | undefined;
    }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'pass' }
  | { readonly kind: 'refused'; readonly reason: string };

const PASS: StaticOutcome = Object.freeze({ kind: 'pass' });

/** A file found under the root: in memory (cached or small enough to read at once) or open. */
interface FoundFile {
  readonly size: number;
  readonly validators: Validators;
  readonly siblings: number;
  readonly body: Buffer | undefined;
  readonly fd: number | undefined;
  /** The cache entry it came from or went into (compressed forms are kept with it). */
  readonly cached: CachedFile | undefined;
}

type Lookup = FoundFile | 'missing' | 'directory' | { readonly refused: string };

const INDEX = 'index.html';

/** One negotiator per set of available siblings, indexed by the Sibling bits. */
const siblingNegotiators: readonly EncodingNegotiator[] = [
  new EncodingNegotiator([]),
  new EncodingNegotiator([ContentCoding.Brotli]),
  new EncodingNegotiator([ContentCoding.Gzip]),
  new EncodingNegotiator([ContentCoding.Brotli, ContentCoding.Gzip]),
];

function validatorsOf(stats: Stats): Validators {
  return { etag: fileETag(stats.size, stats.mtimeMs), lastModified: httpDate(stats.mtimeMs), lastModifiedSecs: wholeSeconds(stats.mtimeMs) };
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

export class StaticFiles {
  readonly root: FileRoot;
  readonly #roots: readonly FileRoot[];
  readonly #serveDotfiles: boolean;
  readonly #fingerprint: RegExp | undefined;
  readonly #cache: SmallFileCache | undefined;
  readonly #compression: StaticFilesOptions['compression'];
  /** `root.path` with a trailing separator, joined to relative paths without path.join. */
  readonly #base: string;

  constructor(options: StaticFilesOptions) {
    this.root = options.root;
    this.#roots = [options.root];
    this.#serveDotfiles = options.serveDotfiles;
    this.#fingerprint = options.fingerprintPattern;
    this.#cache = options.cache;
    this.#compression = options.compression;
    this.#base = options.root.path.endsWith('/') ? options.root.path : `${options.root.path}/`;
  }

  /**
   * What to do with a request. `publicPath` is the normalised request path (for the
   * redirect and the fingerprint test), `filePath` the one the upstream would get
   * (looked up under the root), `query` the query string without `?`.
   */
  lookup(method: string, publicPath: string, filePath: string, query: string, headers: RequestHeaders): StaticOutcome {
    if (method !== 'GET' && method !== 'HEAD') return PASS;
    const relative = filePathFromUrl(filePath, this.#serveDotfiles);
    if (typeof relative !== 'string') return PASS;
    const wantsDirectory = relative === '' || relative.endsWith('/');
    const path = wantsDirectory ? this.#base + relative + INDEX : this.#base + relative;

    const found = this.#find(path);
    if (found === 'missing') return PASS;
    if (found === 'directory') {
      // `/docs` is a directory: send the client to `/docs/` when that has an index.
      if (wantsDirectory || !isFile(`${path}/${INDEX}`)) return PASS;
      return { kind: 'redirect', location: query === '' ? `${publicPath}/` : `${publicPath}/?${query}` };
    }
    if ('refused' in found) return { kind: 'refused', reason: found.refused };

    let file = found;
    let coding = ContentCoding.Identity;
    let varies = found.siblings !== 0;
    if (varies) {
      coding = siblingNegotiators[file.siblings]!.choose(headers.get('accept-encoding'));
      if (coding !== ContentCoding.Identity) {
        const variant = this.#find(coding === ContentCoding.Brotli ? `${path}.br` : `${path}.gz`);
        if (typeof variant === 'object' && !('refused' in variant)) {
          if (file.fd !== undefined) closeSync(file.fd);
          file = variant;
        } else coding = ContentCoding.Identity; // removed since the original was loaded: serve the original
      }
    }
    const contentType = contentTypeFor(path);
    let validators = file.validators;
    let size = file.size;
    let memory = file.body;
    const compression = this.#compression;
    if (!varies && compression !== undefined && found.cached !== undefined && compression.policy.isCompressible(contentType) && found.size >= compression.policy.minBytes) {
      // What the compression filter would do for this file, done once per entry.
      varies = true;
      if (method === 'GET' && headers.get('range') === undefined) {
        coding = compression.policy.negotiate(headers.get('accept-encoding'));
        if (coding !== ContentCoding.Identity) {
          memory = this.#compressedForm(path, found.cached, coding, compression.levels);
          size = memory.length;
          validators = { ...validators, etag: `W/${validators.etag}` };
        }
      }
    }

    const extras = this.#extras(publicPath, varies, coding);
    const response = buildFileResponse(method, headers, { size, contentType, validators }, extras);
    if (response.parts.length === 0) {
      if (file.fd !== undefined) closeSync(file.fd);
      return { kind: 'serve', response, body: undefined };
    }
    const body = memory !== undefined ? new CachedFileSource(memory, response.parts) : new FileBodySource(file.fd!, response.parts);
    return { kind: 'serve', response, body };
  }

  #compressedForm(path: string, entry: CachedFile, coding: ContentCoding, levels: CompressionLevels): Buffer {
    const known = entry.compressed[coding];
    if (known !== undefined) return known;
    const bytes = compressBuffer(entry.body, coding, levels);
    this.#cache!.attachCompressed(path, entry, coding, bytes);
    return bytes;
  }

  #extras(publicPath: string, varies: boolean, coding: ContentCoding): FileResponseExtras {
    const immutable = this.#fingerprint !== undefined && this.#fingerprint.test(publicPath);
    const cacheHeaders = immutable
      ? varies
        ? ['cache-control', IMMUTABLE_CACHE_CONTROL, 'vary', 'Accept-Encoding']
        : ['cache-control', IMMUTABLE_CACHE_CONTROL]
      : varies
        ? ['vary', 'Accept-Encoding']
        : [];
    const representationHeaders = coding === ContentCoding.Brotli ? ['content-encoding', 'br'] : coding === ContentCoding.Gzip ? ['content-encoding', 'gzip'] : [];
    return { cacheHeaders, representationHeaders };
  }

  /** Finds a regular file: from the cache, or through the confinement check (and then cached). */
  #find(path: string): Lookup {
    const cached = this.#cache?.get(path);
    if (cached !== undefined) return { size: cached.size, validators: cached.validators, siblings: cached.siblings, body: cached.body, fd: undefined, cached };
    const opened = openConfined(path, this.#roots);
    if (opened.kind === 'missing' || opened.kind === 'directory') return opened.kind;
    if (opened.kind === 'refused') return { refused: describeFileRefusal(opened.reason) };

    const { fd, stats } = opened;
    const validators = validatorsOf(stats);
    const siblings = path.endsWith('.br') || path.endsWith('.gz') ? 0 : (isFile(`${path}.br`) ? Sibling.Brotli : 0) | (isFile(`${path}.gz`) ? Sibling.Gzip : 0);
    const cache = this.#cache;
    if (cache === undefined || !cache.accepts(stats.size)) return { size: stats.size, validators, siblings, body: undefined, fd, cached: undefined };
    let body: Buffer;
    try {
      body = Buffer.allocUnsafe(stats.size);
      const bytesRead = stats.size === 0 ? 0 : readSync(fd, body, 0, stats.size, 0);
      if (bytesRead !== stats.size) return { refused: 'changed while it was read' };
    } catch {
      return { refused: 'not readable' };
    } finally {
      closeSync(fd);
    }
    const entry = cache.set(path, { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, validators, body, siblings });
    return { size: stats.size, validators, siblings, body, fd: undefined, cached: entry };
  }
}
