/**
 * What the cache needs from the request pipeline, as small interfaces, so the
 * cache can be wired into the pipeline (src/pipeline) by a thin adapter and
 * tested on its own meanwhile. The shapes follow the pipeline's: a body is
 * written into a `BodyWriter` with backpressure; a `BodySource` produces one.
 *
 * @module
 */
import type { CacheRequest } from './cache-request.js';

/** Takes body chunks with backpressure (see src/pipeline/body.ts). */
export interface BodyWriter {
  /** `false`: stop until `onDrain` is called. The chunk is kept, so its memory must not be reused. */
  write(chunk: Buffer): boolean;
  end(): void;
  /** The body cannot be completed: the client must be able to tell. */
  abort(error?: Error): void;
  onDrain: (() => void) | undefined;
}

/** Produces a body into a BodyWriter (a cached entry's bytes). */
export interface BodySource {
  /** Bytes it will write. */
  readonly length: number;
  start(writer: BodyWriter): void;
  cancel(): void;
}

/** A response head the cache reads and edits (src/pipeline/response-head.ts). */
export interface CacheResponseHead {
  status: number;
  /** Reason phrase; '' for the standard one. */
  statusText: string;
  /** Flat [name, value, ...] header list, names in the upstream's case; edited in place. */
  readonly pairs: string[];
  /** Declared Content-Length, -1 when unknown. */
  readonly contentLength: number;
}

/** One request as the cache sees it (src/pipeline/exchange.ts). */
export interface CacheExchange {
  /** Uppercase. */
  readonly method: string;
  /** `http` or `https`: part of the cache key. */
  readonly scheme: string;
  /** Lowercase, without port or trailing dot. */
  readonly host: string;
  /** Normalised path, no query. */
  readonly path: string;
  /** Query string without `?`, '' when none. */
  readonly query: string;
  /** Request headers, flat [name, value, ...], names lowercase. */
  readonly requestHeaders: readonly string[];
  /** The cache's state for this request, kept across hooks; undefined until the cache sets it. */
  cache: CacheRequest | undefined;
  /**
   * Answers the request from the cache: `headers` then `extra` (two lists, so a
   * hit need not copy the stored ones). `body` undefined: no body and no
   * Content-Length (a 304). For a HEAD request the sink sends no body but the
   * source's length as Content-Length.
   */
  respond(status: number, statusText: string, headers: readonly string[], extra: readonly string[], body: BodySource | undefined): void;
  /** Continues a request a filter suspended (to the next filter, then the upstream). */
  resume(): void;
  /** Replaces the upstream's body by `source` (undefined: no body, as for a 304; HEAD as in `respond`). */
  replaceBody(source: BodySource | undefined): void;
  /** Wraps the writer the upstream body goes into (storing a copy while it streams). */
  transformBody(wrap: (next: BodyWriter) => BodyWriter): void;
}
