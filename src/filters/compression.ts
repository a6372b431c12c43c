/**
 * `gzip_compression_enabled`: compresses response bodies for clients that accept
 * brotli or gzip (which responses and why: src/compression/compression-policy.ts;
 * the streaming writer: src/compression/compressing-writer.ts). The decision is
 * made on the head; the body is then written through a compressing writer put in
 * front of the response sink (`x.transformBody`).
 *
 * @module
 */
import { ContentCoding } from '../compression/accept-encoding.js';
import type { CompressionLevels } from '../compression/codec-options.js';
import { CompressingWriter } from '../compression/compressing-writer.js';
import { outcomeCoding, type CompressionPolicy } from '../compression/compression-policy.js';
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import type { ResponseHead } from '../pipeline/response-head.js';

export class CompressionFilter implements Filter {
  readonly name = 'compression';
  readonly #policy: CompressionPolicy;
  readonly #levels: CompressionLevels;

  constructor(policy: CompressionPolicy, levels: CompressionLevels) {
    this.#policy = policy;
    this.#levels = levels;
  }

  responseHead(x: Exchange, head: ResponseHead): void {
    // Read before the decision removes Content-Length: brotli sizes its buffers by it.
    const length = head.contentLength;
    const coding = outcomeCoding(this.#policy.decide(x.method, x.get('accept-encoding'), head));
    if (coding === ContentCoding.Identity) return;
    const levels = this.#levels;
    x.transformBody((next) => new CompressingWriter(next, coding, levels, length));
  }
}
