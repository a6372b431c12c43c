/**
 * The last BodyWriter of a chain in unit tests: keeps every chunk, can refuse
 * chunks to simulate a client that does not read (backpressure), and reports
 * the end or the abort it was given.
 */
import type { BodyWriter } from '../../src/pipeline/body.js';

export class CollectingWriter implements BodyWriter {
  onDrain: (() => void) | undefined = undefined;
  readonly chunks: Buffer[] = [];
  ended = false;
  aborted = false;
  /** When true, every write returns false (the chunk is still kept, as uWS keeps it). */
  stalled = false;
  /**
   * Declares that chunks are copied (as the response sink does): then the writer
   * stores copies, and records which memory each chunk it was given lived in.
   */
  readonly copiesChunks: boolean;
  readonly givenMemory: ArrayBufferLike[] = [];

  constructor(options: { copiesChunks?: boolean } = {}) {
    this.copiesChunks = options.copiesChunks ?? false;
  }
  writesRefused = 0;
  #waiters: { ready: () => boolean; resolve: () => void }[] = [];
  #settled: (() => void)[] = [];

  write(chunk: Buffer): boolean {
    if (this.ended || this.aborted) throw new Error('CollectingWriter: write after end/abort');
    if (this.copiesChunks) this.givenMemory.push(chunk.buffer);
    this.chunks.push(this.copiesChunks ? Buffer.from(chunk) : chunk);
    const ready = this.#waiters.filter((w) => w.ready());
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve();
    if (this.stalled) this.writesRefused++;
    return !this.stalled;
  }

  end(): void {
    if (this.ended || this.aborted) throw new Error('CollectingWriter: end twice or after abort');
    this.ended = true;
    for (const settle of this.#settled) settle();
  }

  abort(): void {
    if (this.ended || this.aborted) throw new Error('CollectingWriter: abort after end/abort');
    this.aborted = true;
    for (const settle of this.#settled) settle();
  }

  /** Lets writes through again and tells the writer above, once (as the ResponseSink does). */
  drain(): void {
    this.stalled = false;
    const drain = this.onDrain;
    this.onDrain = undefined;
    drain?.();
  }

  get bytes(): number {
    return this.chunks.reduce((sum, c) => sum + c.length, 0);
  }

  body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Resolves once `ready()` holds, checked now and after every chunk. */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ ready, resolve }));
  }

  /** Resolves at end() or abort(). */
  settled(): Promise<void> {
    if (this.ended || this.aborted) return Promise.resolve();
    return new Promise((resolve) => this.#settled.push(resolve));
  }
}
