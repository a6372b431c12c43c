/**
 * A BodyWriter that compresses what it is given (gzip or brotli, Node's zlib) and
 * writes the result into the next BodyWriter, chunk by chunk, never holding a
 * whole body.
 *
 * Backpressure runs both ways:
 * - toward the client: when the next writer refuses a chunk, the zlib stream is
 *   paused; its output buffer fills, it stops taking input, and so
 * - toward the source: `write` returns false while zlib's input buffer is above its
 *   high-water mark, and `onDrain` fires when it has room again.
 *
 * Flushing. A compressor keeps input until it has enough to encode well, so a slow
 * response (an HTML page streamed in parts, a long poll answering a few bytes) would
 * wait in it until more came or the body ended. Once a turn of the event loop has
 * passed with input written and nothing more arrived, the writer flushes (zlib's
 * Z_SYNC_FLUSH, brotli's FLUSH), so what the upstream sent reaches the client at the
 * latest one turn later. A bulk body arriving in one large read per turn is flushed
 * once per read: measured on 1 MiB of JSON in 64 KiB reads, that costs 0.1 % of
 * output size with gzip and 0.4 % with brotli (see docs/compression.md).
 * (`text/event-stream` is never compressed at all: see compression-policy.ts.)
 *
 * Reuse. Setting a zlib stream up and tearing it down costs more than compressing
 * 100 KiB with it (its state, 256 KiB by zlib's formula plus a 64 KiB output buffer,
 * is allocated and faulted in again each time):
 * measured, a fresh gzip stream per 100 KiB response costs 4.2 ms of CPU, one reset
 * and reused 2.1 ms, `gzipSync` 1.8 ms. A body is therefore ended with a FINISH flush
 * rather than by ending the stream, and gzip streams are reset (`deflateReset`) and
 * kept in a small per-thread pool. Brotli streams are not: Node's reset of a brotli
 * stream forgets its parameters (it would compress at quality 11 afterwards).
 *
 * @module
 */
import zlib from 'node:zlib';
import type { BodyWriter } from '../pipeline/body.js';
import { ContentCoding } from './accept-encoding.js';
import { brotliOptions, gzipOptions, type CompressionLevels } from './codec-options.js';

export type { CompressionLevels } from './codec-options.js';

/** Input held before `write` says stop: one upstream read (undici reads 64 KiB). */
const INPUT_HIGH_WATER_BYTES = 64 * 1024;
/** Reset gzip streams kept per level, per thread (each holds about 320 KiB, see the module comment). */
const POOL_LIMIT = 16;

type ZlibStream = zlib.Gzip | zlib.BrotliCompress;

/** A zlib stream and the writer using it now; the stream's listeners are set once, for its whole life. */
class Compressor {
  readonly stream: ZlibStream;
  readonly coding: ContentCoding;
  readonly level: number;
  user: CompressingWriter | undefined = undefined;

  constructor(coding: ContentCoding, levels: CompressionLevels, sizeHint: number) {
    this.coding = coding;
    this.level = coding === ContentCoding.Gzip ? levels.gzip : levels.brotli;
    // zlib passes highWaterMark on to its Transform stream; @types/node does not declare it.
    const stream = { highWaterMark: INPUT_HIGH_WATER_BYTES };
    this.stream =
      coding === ContentCoding.Gzip
        ? zlib.createGzip({ ...gzipOptions(levels), ...stream })
        : zlib.createBrotliCompress({ ...brotliOptions(levels, sizeHint), ...stream });
    this.stream.on('data', (chunk: Buffer) => this.user?.output(chunk));
    this.stream.on('drain', () => this.user?.inputDrained());
    this.stream.on('error', () => this.user?.abort());
  }
}

/** Reset gzip compressors by level. */
const gzipPool = new Map<number, Compressor[]>();

/** Reset gzip compressors waiting in this thread's pool for `level` (tests, metrics). */
export function pooledGzipCompressors(level: number): number {
  return gzipPool.get(level)?.length ?? 0;
}

function acquire(coding: ContentCoding, levels: CompressionLevels, sizeHint: number): Compressor {
  if (coding === ContentCoding.Gzip) {
    const pooled = gzipPool.get(levels.gzip)?.pop();
    if (pooled !== undefined) return pooled;
  }
  return new Compressor(coding, levels, sizeHint);
}

/** After a completed body (FINISH flushed, all output taken): reset and keep, or close. */
function release(compressor: Compressor): void {
  compressor.user = undefined;
  if (compressor.coding === ContentCoding.Gzip) {
    let pool = gzipPool.get(compressor.level);
    if (pool === undefined) gzipPool.set(compressor.level, (pool = []));
    if (pool.length < POOL_LIMIT) {
      // zlib.reset() is documented (deflateReset); @types/node leaves it off the Gzip type.
      (compressor.stream as zlib.Gzip & { reset(): void }).reset();
      pool.push(compressor);
      return;
    }
  }
  compressor.stream.destroy();
}

const enum State {
  Open,
  /** end() called: the FINISH flush is on its way. */
  Ending,
  Done,
}

function flushIfQuiet(writer: CompressingWriter): void {
  writer.flushIfQuiet();
}

export class CompressingWriter implements BodyWriter {
  onDrain: (() => void) | undefined = undefined;
  readonly #next: BodyWriter;
  readonly #compressor: Compressor;
  readonly #flushKind: number;
  readonly #finishKind: number;
  #state = State.Open;
  /** Input written since the last flush. */
  #unflushed = false;
  #flushPending: NodeJS.Immediate | undefined = undefined;
  #waitingForClient = false;
  /** The FINISH flush has been processed: the body is complete once its output is out. */
  #finished = false;
  /** Given to the next writer each time it pushes back (a writer calls onDrain once, then forgets it). */
  readonly #resumeOutput = () => this.#clientDrained();

  /**
   * `sizeHint`: the uncompressed length when known (-1 otherwise); brotli sizes its
   * buffers by it.
   */
  constructor(next: BodyWriter, coding: ContentCoding, levels: CompressionLevels, sizeHint = -1) {
    if (coding === ContentCoding.Identity) throw new Error('CompressingWriter: identity is not a compression');
    this.#next = next;
    this.#compressor = acquire(coding, levels, sizeHint);
    this.#compressor.user = this;
    const gzip = coding === ContentCoding.Gzip;
    this.#flushKind = gzip ? zlib.constants.Z_SYNC_FLUSH : zlib.constants.BROTLI_OPERATION_FLUSH;
    this.#finishKind = gzip ? zlib.constants.Z_FINISH : zlib.constants.BROTLI_OPERATION_FINISH;
  }

  write(chunk: Buffer): boolean {
    if (this.#state !== State.Open) return true;
    this.#unflushed = true;
    this.#flushPending ??= setImmediate(flushIfQuiet, this);
    return this.#compressor.stream.write(chunk);
  }

  end(): void {
    if (this.#state !== State.Open) return;
    this.#state = State.Ending;
    this.#cancelFlush();
    this.#compressor.stream.flush(this.#finishKind, () => {
      this.#finished = true;
      this.#completeIfDone();
    });
  }

  abort(): void {
    if (this.#state === State.Done) return;
    this.#state = State.Done;
    this.#cancelFlush();
    // A stream cut half-way is never reused.
    this.#compressor.user = undefined;
    this.#compressor.stream.destroy();
    this.#next.abort();
  }

  /** See the module comment: flush what the last turn wrote, unless the body ended. */
  flushIfQuiet(): void {
    this.#flushPending = undefined;
    if (this.#state !== State.Open || !this.#unflushed) return;
    this.#unflushed = false;
    this.#compressor.stream.flush(this.#flushKind);
  }

  /** Compressed bytes from zlib. */
  output(chunk: Buffer): void {
    if (this.#state === State.Done) return;
    if (!this.#next.write(chunk)) {
      this.#waitingForClient = true;
      this.#next.onDrain = this.#resumeOutput;
      this.#compressor.stream.pause();
      return;
    }
    if (this.#finished) this.#completeIfDone();
  }

  /** zlib took its queued input: the source may write again (once; it sets onDrain anew). */
  inputDrained(): void {
    const drain = this.onDrain;
    this.onDrain = undefined;
    drain?.();
  }

  #clientDrained(): void {
    if (!this.#waitingForClient || this.#state === State.Done) return;
    this.#waitingForClient = false;
    this.#compressor.stream.resume();
    if (this.#finished) this.#completeIfDone();
  }

  /** Ends the body once the FINISH flush is processed and all its output handed on. */
  #completeIfDone(): void {
    if (this.#state !== State.Ending || this.#waitingForClient || this.#compressor.stream.readableLength > 0) return;
    this.#state = State.Done;
    release(this.#compressor);
    this.#next.end();
  }

  #cancelFlush(): void {
    if (this.#flushPending !== undefined) {
      clearImmediate(this.#flushPending);
      this.#flushPending = undefined;
    }
  }
}
