/**
 * A request body streaming from uWS to undici with backpressure both ways.
 *
 * uWS hands us chunks in `onData` (each an ArrayBuffer that is neutered when the
 * callback returns, so we copy it). undici pulls from an async iterator. When more
 * than `highWaterMark` bytes wait in the queue we `pause()` the client's socket;
 * when undici has drained it below the low mark we `resume()` it. Memory per
 * upload is therefore bounded by about one high-water mark, whatever its size.
 *
 * Each dispatch attempt gets a fresh iterator (`chunks()`), so a connect failure
 * that destroys one attempt's body leaves the source intact: a body that was never
 * pulled can be retried on another instance.
 *
 * @module
 */

export interface PausableSocket {
  pause(): void;
  resume(): void;
}

const HIGH_WATER_MARK = 256 * 1024;
const LOW_WATER_MARK = 64 * 1024;

export class RequestBodySource {
  readonly #socket: PausableSocket;
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  #ended = false;
  #paused = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  /** Bytes received from the client so far. */
  received = 0;
  /** True once any attempt has pulled a chunk: retrying is no longer safe. */
  started = false;
  /** True once the client has sent the whole body. */
  get ended(): boolean {
    return this.#ended;
  }

  constructor(socket: PausableSocket) {
    this.#socket = socket;
  }

  /** Called from uWS `onData`: copies the chunk (uWS reuses its memory). */
  push(chunk: ArrayBuffer, isLast: boolean): void {
    if (chunk.byteLength > 0 && this.#error === undefined) {
      // Buffer.from(arrayBuffer) would be a view into memory uWS frees on return.
      this.#queue.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      this.#queuedBytes += chunk.byteLength;
      this.received += chunk.byteLength;
      if (this.#queuedBytes > HIGH_WATER_MARK && !this.#paused) {
        this.#paused = true;
        this.#socket.pause();
      }
    }
    if (isLast) this.#ended = true;
    this.#notify();
  }

  /** Stops the stream: pending and future pulls fail with `error`, buffered data is dropped. */
  fail(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#notify();
  }

  /** The body as an async iterable for one dispatch attempt. */
  async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.#error) throw this.#error;
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#queuedBytes -= chunk.length;
        if (this.#paused && this.#queuedBytes < LOW_WATER_MARK) {
          this.#paused = false;
          this.#socket.resume();
        }
        this.started = true;
        yield chunk;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake();
    }
  }
}
