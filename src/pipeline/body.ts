/**
 * How response bodies move, whatever produced them (undici, a file, a cache
 * entry, a filter): a source writes chunks into a `BodyWriter` and stops when
 * told to, until the writer calls it back. The response sink (the only code
 * touching uWS) is the last writer; a transform such as compression is a writer
 * wrapping the next one. Backpressure therefore crosses any number of
 * transforms with no queue of its own in between.
 *
 * @module
 */

export interface BodyWriter {
  /**
   * Takes one chunk. `false` means "stop writing": the writer keeps this chunk but
   * wants no more until it calls `onDrain`. The chunk may be kept (queued by uWS,
   * or by a transform), so a source must not reuse its memory after the call.
   */
  write(chunk: Buffer): boolean;
  /** No more chunks: complete the response. */
  end(): void;
  /**
   * The body cannot be completed (the source failed half-way): the client must be
   * able to tell, so the connection is cut rather than the response ended.
   */
  abort(): void;
  /** Set by the source after `write` returned false; called once when writing may go on. */
  onDrain: (() => void) | undefined;
  /**
   * True when the writer keeps no reference to a chunk once `write` returned true,
   * nor after it called `onDrain` (the ResponseSink: uWS's `tryEnd`/`write` copy what
   * they do not send at once, and a chunk `tryEnd` could not take is held only until
   * `onWritable`). A source may then read its next chunk into the same buffer, which
   * saves an allocation and its page faults per chunk: a third of the CPU of a large
   * file download (native-notes/files.md). A transform that queues chunks
   * (compression) leaves it unset, and sources then take a new buffer per chunk.
   */
  readonly copiesChunks?: boolean;
}

/**
 * A body produced by something other than the upstream response: a file, a
 * cached entry, a filter's own stream. `Exchange.serve` / `replaceBody` start it
 * once the head is decided, and abort it if the client goes away.
 */
export interface BodySource {
  /** Bytes the source will produce, or -1 when unknown (then the response is chunked). */
  readonly length: number;
  /** Starts writing into `writer`; ends it with `writer.end()`, or `writer.abort()` on failure. */
  start(writer: BodyWriter): void;
  /** The client went away (or the response was cut): release files and timers, write nothing more. */
  cancel(): void;
}

/** A body held in memory: one chunk (a filter's answer, a small cached entry). */
export class BufferBodySource implements BodySource {
  readonly length: number;
  readonly #chunk: Buffer;

  constructor(chunk: Buffer) {
    this.#chunk = chunk;
    this.length = chunk.length;
  }

  start(writer: BodyWriter): void {
    if (this.length > 0) writer.write(this.#chunk);
    writer.end();
  }

  cancel(): void {}
}
