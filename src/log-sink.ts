/**
 * Writes lines to a file descriptor (stdout or stderr) from whichever thread
 * produces them: the supervisor worker's child output, and every proxy
 * thread's access log.
 *
 * A worker's `process.stdout`/`stderr` is relayed through the main thread,
 * which would put every line on the main proxy thread's event loop; writing
 * the fd directly keeps it off. `process.stdout` on a pipe also buffers
 * without limit when the reader is stuck. Batching to PIPE_BUF makes far
 * fewer writes than a line each (measured for the access log, one thread:
 * +16 % requests/s with stdout a pipe, +4 % to a file; two threads on the
 * 2-vCPU machine: the same as the relay). Here one write is in flight
 * at a time and the queue is bounded: when the fd is slow or stuck, lines
 * beyond `maxQueuedBytes` are dropped and counted (reported through
 * `onDropped` once writing resumes) rather than buffered without limit, so a
 * stuck log reader neither grows memory nor blocks a request.
 *
 * Batches stay within PIPE_BUF (4096 bytes) where possible: a write of at most
 * that size to a pipe is atomic, so the main thread's own log lines cannot land
 * in the middle of a batch.
 *
 * @module
 */

import { close, write } from 'node:fs';

const pipeAtomicBytes = 4096;

export interface LogSinkOptions {
  readonly fd: number;
  /** Queued bytes at most; lines beyond are dropped. Default 1 MiB. */
  readonly maxQueuedBytes?: number;
  /** Told how many lines were dropped, once the queue has drained after a drop. */
  readonly onDropped: (count: number, sink: LogSink) => void;
}

export class LogSink {
  #fd: number;
  /** Descriptors replaced by `setFd`, closed once the write in flight (on them) is done. */
  #retired: number[] = [];
  readonly #maxQueuedBytes: number;
  readonly #onDropped: (count: number, sink: LogSink) => void;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #writing = false;
  #dropped = 0;
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  constructor(options: LogSinkOptions) {
    this.#fd = options.fd;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.#onDropped = options.onDropped;
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

  /** The descriptor lines go to. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Sends the following batches to `fd` (a log file reopened after rotation). The
   * batch being written finishes on the old descriptor, which is then closed if
   * `closeOld` (never stdout or stderr): a line never straddles two files.
   */
  setFd(fd: number, closeOld: boolean): void {
    if (fd === this.#fd) return;
    if (closeOld) this.#retired.push(this.#fd);
    this.#fd = fd;
    if (!this.#writing) this.#closeRetired();
  }

  close(): void {
    this.#closed = true;
  }

  /** Resolves once every queued line has been written (at once when nothing is queued). */
  flush(): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    if (this.#writing) return;
    if (this.#queue.length === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
      return;
    }
    // Take whole lines up to PIPE_BUF; a single longer line goes alone.
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && (count === 0 || bytes + this.#queue[count]!.length <= pipeAtomicBytes)) {
      bytes += this.#queue[count]!.length;
      count += 1;
    }
    const batch = count === 1 ? this.#queue[0]! : Buffer.concat(this.#queue.slice(0, count), bytes);
    this.#writing = true;
    this.#writeAll(this.#fd, batch, () => {
      this.#queue.splice(0, count);
      this.#queuedBytes -= bytes;
      this.#writing = false;
      this.#closeRetired();
      if (this.#dropped > 0 && this.#queuedBytes === 0) {
        const dropped = this.#dropped;
        this.#dropped = 0;
        this.#onDropped(dropped, this);
      }
      this.#pump();
    });
  }

  /** Writes all of `batch` to `fd` (the descriptor current when the batch started). */
  #writeAll(fd: number, batch: Buffer, done: () => void): void {
    write(fd, batch, 0, batch.length, null, (error, written) => {
      if (error) {
        // EAGAIN: stderr is non-blocking and full; try again shortly. Anything else: give the batch up.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') setTimeout(() => this.#writeAll(fd, batch, done), 20);
        else done();
        return;
      }
      if (written < batch.length) this.#writeAll(fd, batch.subarray(written), done);
      else done();
    });
  }

  #closeRetired(): void {
    for (const fd of this.#retired.splice(0)) close(fd, () => undefined);
  }
}
