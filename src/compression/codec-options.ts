/**
 * zlib options for each coding, shared by the streaming compressor and the
 * whole-buffer one, so a body compresses the same way on either path.
 *
 * @module
 */
import zlib from 'node:zlib';
import { ContentCoding } from './accept-encoding.js';

export interface CompressionLevels {
  /** zlib level 1-9. */
  readonly gzip: number;
  /** brotli quality 0-11. */
  readonly brotli: number;
}

/**
 * Output chunk size: zlib's default 16 KiB makes four writes to the client for
 * every 64 KiB; 64 KiB makes one.
 */
const OUTPUT_CHUNK_BYTES = 64 * 1024;
/**
 * Brotli's window: 2^20 = 1 MiB instead of the default 4 MiB. Bodies under 1 MiB
 * compress the same; a very large one keeps a smaller window per response.
 */
const BROTLI_WINDOW_BITS = 20;

export function gzipOptions(levels: CompressionLevels): zlib.ZlibOptions {
  return { level: levels.gzip, chunkSize: OUTPUT_CHUNK_BYTES };
}

/** `sizeHint`: the uncompressed length when known (-1 otherwise); brotli sizes its buffers by it. */
export function brotliOptions(levels: CompressionLevels, sizeHint: number): zlib.BrotliOptions {
  const params: Record<number, number> = {
    [zlib.constants.BROTLI_PARAM_QUALITY]: levels.brotli,
    [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    [zlib.constants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS,
  };
  if (sizeHint > 0) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
  return { params, chunkSize: OUTPUT_CHUNK_BYTES };
}

/** A whole body compressed at once (a small cached file, compressed once per entry). */
export function compressBuffer(body: Buffer, coding: ContentCoding, levels: CompressionLevels): Buffer {
  if (coding === ContentCoding.Gzip) return zlib.gzipSync(body, gzipOptions(levels));
  if (coding === ContentCoding.Brotli) return zlib.brotliCompressSync(body, brotliOptions(levels, body.length));
  throw new Error('compressBuffer: identity is not a compression');
}
