/**
 * Writes child output lines to warpdrive's stderr from the worker thread itself.
 *
 * A worker's `process.stderr` is relayed through the main thread, which would
 * put every child line on the proxy's event loop; writing fd 2 directly keeps it
 * off. One write is in flight at a time and the queue is bounded: when stderr
 * is slow or stuck, lines beyond `maxQueuedBytes` are dropped and counted
 * (reported once writing resumes) rather than buffered without limit, so a
 * chatty child neither grows memory nor blocks anyone.
 *
 * Batches stay within PIPE_BUF (4096 bytes) where possible: a write of at most
 * that size to a pipe is atomic, so the main thread's own log lines cannot land
 * in the middle of a batch.
 *
 * @module
 */

import { write } from 'node:fs';

const pipeAtomicBytes = 4096;

export class LogSink {
  readonly #fd: number;
  readonly #maxQueuedBytes: number;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #writing = false;
  #dropped = 0;
  #closed = false;

  constructor(fd = 2, maxQueuedBytes = 1024 * 1024) {
    this.#fd = fd;
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  /** Lines dropped so far because the sink was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues one line (without newline). */
  writeLine(line: string): void {
    if (this.#closed) return;
    const bytes = Buffer.from(`${line}\n`);
    if (this.#queuedBytes + bytes.length > this.#maxQueuedBytes) {
      this.#dropped += 1;
      return;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#pump();
  }

  close(): void {
    this.#closed = true;
  }

  #pump(): void {
    if (this.#writing || this.#queue.length === 0) return;
    // Take whole lines up to PIPE_BUF; a single longer line goes alone.
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && (count === 0 || bytes + this.#queue[count]!.length <= pipeAtomicBytes)) {
      bytes += this.#queue[count]!.length;
      count += 1;
    }
    const batch = count === 1 ? this.#queue[0]! : Buffer.concat(this.#queue.slice(0, count), bytes);
    this.#writing = true;
    this.#writeAll(batch, () => {
      this.#queue.splice(0, count);
      this.#queuedBytes -= bytes;
      this.#writing = false;
      if (this.#dropped > 0 && this.#queuedBytes === 0) {
        const notice = Buffer.from(`${new Date().toISOString()} warn  [supervisor] ${this.#dropped} child output lines dropped: stderr could not keep up\n`);
        this.#dropped = 0;
        this.#queue.push(notice);
        this.#queuedBytes += notice.length;
      }
      this.#pump();
    });
  }

  #writeAll(batch: Buffer, done: () => void): void {
    write(this.#fd, batch, 0, batch.length, null, (error, written) => {
      if (error) {
        // EAGAIN: stderr is non-blocking and full; try again shortly. Anything else: give the batch up.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') setTimeout(() => this.#writeAll(batch, done), 20);
        else done();
        return;
      }
      if (written < batch.length) this.#writeAll(batch.subarray(written), done);
      else done();
    });
  }
}
