/**
 * A BodySource that sends parts of an open file (and literal bytes between them,
 * for multipart ranges) into a BodyWriter, with backpressure.
 *
 * uWebSockets.js has no sendfile(2): the bytes pass through user space. Parts up
 * to SYNC_READ_MAX_BYTES are read synchronously in one call (a few microseconds
 * from the page cache, cheaper than a round trip through libuv's thread pool);
 * larger parts are read asynchronously in CHUNK_BYTES pieces, each read started
 * only when the writer has taken the previous chunk, so a slow client holds at
 * most one chunk in warpdrive's memory and one in uWS's. What this costs against
 * nginx's sendfile is measured in native-notes/files.md.
 *
 * Chunk buffers: when the writer says it copies chunks (`BodyWriter.copiesChunks`,
 * true of the response sink), one buffer per body is reused for every chunk and
 * returned to a small per-thread pool at the end; otherwise every chunk gets a new
 * buffer, as a transform may keep it.
 *
 * The descriptor is closed exactly once: after the last part, on an error, or on
 * `cancel()` (once a read in flight has returned).
 *
 * @module
 */
import { closeSync, read, readSync } from 'node:fs';
import type { BodySource, BodyWriter } from '../pipeline/body.js';
import type { BodyPart } from './file-response.js';

/** Parts this small are read in one synchronous call. */
export const SYNC_READ_MAX_BYTES = 64 * 1024;
/** Size of each asynchronous read of a larger part (see native-notes/files.md for the choice). */
export const CHUNK_BYTES = 512 * 1024;

/** Chunk buffers kept for the next body (per thread: each has its own module instance). */
const POOL_LIMIT = 16;
const bufferPool: Buffer[] = [];

function takeChunkBuffer(): Buffer {
  return bufferPool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

/** A file that shrank while it was being sent: the response is cut, never padded. */
export class FileShrankError extends Error {
  override readonly name = 'FileShrankError';
}

/** Bytes the parts add up to. */
export function bodyLength(parts: readonly BodyPart[]): number {
  let length = 0;
  for (const part of parts) length += Buffer.isBuffer(part) ? part.length : part.end - part.start + 1;
  return length;
}

function onRead(source: FileBodySource, error: NodeJS.ErrnoException | null, bytesRead: number, buffer: Buffer): void {
  source.readDone(error, bytesRead, buffer);
}

export class FileBodySource implements BodySource {
  readonly length: number;
  readonly #fd: number;
  readonly #parts: readonly BodyPart[];
  #writer: BodyWriter | undefined = undefined;
  /** Index of the part being sent, and the file position within it. */
  #part = 0;
  #position = -1;
  #reading = false;
  #closed = false;
  #aborted = false;
  /** The reused chunk buffer, when the writer copies chunks. */
  #buffer: Buffer | undefined = undefined;
  readonly #readCallback = (error: NodeJS.ErrnoException | null, bytesRead: number, buffer: Buffer) => onRead(this, error, bytesRead, buffer);
  /** Given to the writer each time it pushes back (a writer calls onDrain once, then forgets it). */
  readonly #resume = () => this.#pump();

  /** Takes ownership of `fd` (closes it). */
  constructor(fd: number, parts: readonly BodyPart[]) {
    this.#fd = fd;
    this.#parts = parts;
    this.length = bodyLength(parts);
  }

  start(writer: BodyWriter): void {
    if (this.#writer !== undefined) throw new Error('FileBodySource: started twice');
    this.#writer = writer;
    if (writer.copiesChunks === true && this.length > SYNC_READ_MAX_BYTES) this.#buffer = takeChunkBuffer();
    this.#pump();
  }

  cancel(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    if (!this.#reading) this.#close();
  }

  /** Sends parts until the writer pushes back, a read goes async, or the body ends. */
  #pump(): void {
    const writer = this.#writer!;
    while (!this.#aborted && !this.#reading) {
      const part = this.#parts[this.#part];
      if (part === undefined) {
        this.#close();
        writer.end();
        return;
      }
      if (Buffer.isBuffer(part)) {
        this.#part++;
        if (!writer.write(part)) return this.#waitForDrain(writer);
        continue;
      }
      if (this.#position < 0) this.#position = part.start;
      const remaining = part.end + 1 - this.#position;
      if (part.end + 1 - part.start <= SYNC_READ_MAX_BYTES) {
        const buffer = Buffer.allocUnsafe(remaining);
        let bytesRead: number;
        try {
          bytesRead = readSync(this.#fd, buffer, 0, remaining, this.#position);
        } catch (error) {
          this.#fail(error as Error);
          return;
        }
        if (!this.#advance(bytesRead, buffer)) return;
        if (!writer.write(bytesRead === remaining ? buffer : buffer.subarray(0, bytesRead))) return this.#waitForDrain(writer);
        continue;
      }
      this.#reading = true;
      const length = Math.min(CHUNK_BYTES, remaining);
      const buffer = this.#buffer === undefined ? Buffer.allocUnsafe(length) : this.#buffer.subarray(0, length);
      read(this.#fd, buffer, 0, length, this.#position, this.#readCallback);
      return;
    }
  }

  /** Called by the fs.read callback. */
  readDone(error: NodeJS.ErrnoException | null, bytesRead: number, buffer: Buffer): void {
    this.#reading = false;
    if (this.#aborted) {
      this.#close();
      return;
    }
    if (error !== null) {
      this.#fail(error);
      return;
    }
    if (!this.#advance(bytesRead, buffer)) return;
    const writer = this.#writer!;
    if (writer.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead))) this.#pump();
    else this.#waitForDrain(writer);
  }

  #waitForDrain(writer: BodyWriter): void {
    writer.onDrain = this.#resume;
  }

  /** Moves past `bytesRead` bytes; false (and the body aborted) when the file ended early. */
  #advance(bytesRead: number, buffer: Buffer): boolean {
    if (bytesRead === 0 && buffer.length > 0) {
      this.#fail(new FileShrankError('the file ended before the bytes its size promised'));
      return false;
    }
    this.#position += bytesRead;
    const part = this.#parts[this.#part] as { end: number };
    if (this.#position > part.end) {
      this.#part++;
      this.#position = -1;
    }
    return true;
  }

  #fail(error: Error): void {
    this.#aborted = true;
    this.#close();
    this.failure = error;
    this.#writer!.abort();
  }

  /** Why the body was cut, when it was (for logs and tests). */
  failure: Error | undefined = undefined;

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
    // Never while a read is in flight: #close runs then only from readDone.
    if (this.#buffer !== undefined && bufferPool.length < POOL_LIMIT) bufferPool.push(this.#buffer);
    this.#buffer = undefined;
  }
}
