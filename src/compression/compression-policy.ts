/**
 * Whether one response is compressed, and the head edits that go with it.
 *
 * Never compressed (the head is left alone):
 * - statuses without a body or with a partial one: 1xx (101 is a WebSocket or
 *   other upgrade), 204, 205, 206 (a byte range of the unencoded body), 304;
 * - a body the upstream already encoded (`Content-Encoding` other than identity);
 * - `Cache-Control: no-transform` (RFC 9110 7.7: a proxy must not change the body);
 * - a Content-Type missing or not in the compressible list, and always
 *   `text/event-stream` (SSE must reach the client event by event);
 * - a declared Content-Length below the minimum size.
 *
 * Every other response is *eligible*: its body would be compressed for a client that
 * accepts a coding, so it gets `Vary: Accept-Encoding` whatever this client sent,
 * so that a shared cache never hands a compressed copy to a client that cannot read
 * it. It is then compressed unless the client accepts none of the codings or the
 * request is HEAD (no body to compress; the head then stays exactly that of an
 * uncompressed GET). Compressing sets `Content-Encoding`, drops `Content-Length`
 * (the output is chunked), drops `Accept-Ranges` (ranges of the compressed body are
 * not served) and weakens a strong `ETag` (RFC 9110 8.8.1: the bytes differ from
 * those the upstream's strong validator names).
 *
 * @module
 */
import type { ResponseHead } from '../pipeline/response-head.js';
import { hasListToken } from '../http/list-tokens.js';
import { codingToken, ContentCoding, EncodingNegotiator } from './accept-encoding.js';
import { CompressibleTypes } from './compressible-types.js';

export interface CompressionSettings {
  /** Codings offered, most preferred first. */
  readonly codings: readonly ContentCoding[];
  /** Compressible media types (`type/subtype` or `type/*`). */
  readonly types: readonly string[];
  /** Bodies with a declared length below this stay as they are. */
  readonly minBytes: number;
}

/**
 * What happens to one response's body: compressed with a coding (the values equal
 * `ContentCoding`'s), or left alone and why (for tests and debug logging).
 */
export const enum CompressionOutcome {
  Gzip = ContentCoding.Gzip,
  Brotli = ContentCoding.Brotli,
  /** Eligible (Vary added) but the client accepts no offered coding, or HEAD. */
  NotAccepted,
  NoBodyStatus,
  AlreadyEncoded,
  NoTransform,
  NotCompressibleType,
  TooSmall,
}

/** The coding to compress with for an outcome; Identity when the body stays as it is. */
export function outcomeCoding(outcome: CompressionOutcome): ContentCoding {
  return outcome === CompressionOutcome.Gzip ? ContentCoding.Gzip : outcome === CompressionOutcome.Brotli ? ContentCoding.Brotli : ContentCoding.Identity;
}

export class CompressionPolicy {
  readonly minBytes: number;
  readonly #negotiator: EncodingNegotiator;
  readonly #types: CompressibleTypes;

  constructor(settings: CompressionSettings) {
    this.minBytes = settings.minBytes;
    this.#negotiator = new EncodingNegotiator(settings.codings);
    this.#types = new CompressibleTypes(settings.types);
  }

  /** The coding a client with this Accept-Encoding gets (also used for precompressed files). */
  negotiate(acceptEncoding: string | undefined): ContentCoding {
    return this.#negotiator.choose(acceptEncoding);
  }

  /** True for a media type the settings compress. */
  isCompressible(contentType: string | undefined): boolean {
    return this.#types.includes(contentType);
  }

  /** Decides for one response and edits `head` to match (see the module comment). */
  decide(method: string, acceptEncoding: string | undefined, head: ResponseHead): CompressionOutcome {
    const status = head.status;
    if (status < 200 || status === 204 || status === 205 || status === 206 || status === 304) return CompressionOutcome.NoBodyStatus;
    const encoding = head.get('content-encoding');
    if (encoding !== undefined && !isIdentity(encoding)) return CompressionOutcome.AlreadyEncoded;
    const cacheControl = head.get('cache-control');
    if (cacheControl !== undefined && hasListToken(cacheControl, 'no-transform')) return CompressionOutcome.NoTransform;
    if (!this.#types.includes(head.get('content-type'))) return CompressionOutcome.NotCompressibleType;
    const length = head.contentLength;
    if (length >= 0 && length < this.minBytes) return CompressionOutcome.TooSmall;

    addVaryAcceptEncoding(head);
    const coding = method === 'HEAD' ? ContentCoding.Identity : this.#negotiator.choose(acceptEncoding);
    if (coding === ContentCoding.Identity) return CompressionOutcome.NotAccepted;

    head.set('content-encoding', codingToken(coding));
    head.remove('content-length');
    head.remove('accept-ranges');
    const etag = head.get('etag');
    if (etag !== undefined && !etag.startsWith('W/')) head.set('etag', `W/${etag}`);
    return coding === ContentCoding.Gzip ? CompressionOutcome.Gzip : CompressionOutcome.Brotli;
  }
}

function isIdentity(encoding: string): boolean {
  return encoding === '' || encoding.trim().toLowerCase() === 'identity';
}

/** Adds Accept-Encoding to the response's Vary unless it is there or Vary is `*`. */
export function addVaryAcceptEncoding(head: ResponseHead): void {
  const vary = head.get('vary');
  if (vary === undefined || vary.trim() === '') head.set('vary', 'Accept-Encoding');
  else if (!hasListToken(vary, 'accept-encoding') && !hasListToken(vary, '*')) head.set('vary', `${vary}, Accept-Encoding`);
}
