/**
 * What the cache filter uses of an exchange: a subset of the pipeline's
 * `Exchange` (src/pipeline/exchange.ts), which satisfies it as it is. Tests of
 * the cache rules drive the filter through an in-process stand-in that
 * implements just this (test/helpers/cache-harness.ts).
 *
 * @module
 */
import type { BodySource, BodyWriter } from '../pipeline/body.js';
import type { EncodedHeaders } from '../pipeline/headers.js';

export type { BodySource, BodyWriter };

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
  /** Set for a WebSocket upgrade, which the cache leaves alone (it must reach the upstream). */
  readonly upgradeContext: unknown;
  /**
   * The request headers as the client sent them (flat [name, value, ...], names
   * lowercase) while request filters run; upstreamRequest filters add to it later.
   */
  readonly upstreamHeaders: string[];
  /** Per-filter state: the cache keeps its CacheRequest in one slot. */
  local<T>(slot: number): T | undefined;
  setLocal(slot: number, value: unknown): void;
  /** A complete answer: `pairs` without Content-Length (the sink writes it; for HEAD, with no body). */
  respond(status: number, pairs: readonly string[] | EncodedHeaders, body: string | Buffer, statusText?: string): void;
  /** Continues the request filters after `Verdict.Suspended`. */
  resume(): void;
  /** From responseHead: drop the upstream's body and send `source` instead. */
  replaceBody(source: BodySource): void;
  /** From responseHead: wrap the writer the body goes into. */
  transformBody(wrap: (next: BodyWriter) => BodyWriter): void;
}
