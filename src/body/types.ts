/**
 * Body plumbing with backpressure, as the request pipeline (issue 12) defines it.
 *
 * These are the shapes the pipeline's brief gives: a `BodyWriter` takes chunks and
 * says when to stop, a `BodySource` writes into one and can be aborted. They are
 * declared here so that compression and file serving can be built and tested before
 * the pipeline lands; being structural, the pipeline's own declarations (and its
 * response sink) satisfy them as they are, and this file can then re-export those.
 *
 * @module
 */

/** Where body bytes go: the response sink, or a transform (gzip) wrapping the next writer. */
export interface BodyWriter {
  /**
   * Takes `chunk` (the writer may keep a reference to it: never reuse the buffer).
   * Returns false when the caller must stop writing until `onDrain` is called.
   */
  write(chunk: Buffer): boolean;
  /** No more chunks: finish the body. */
  end(): void;
  /**
   * The body cannot be completed (the source failed half-way): the client must be
   * able to tell, so the connection is cut rather than the response ended.
   */
  abort(): void;
  /** Set by the caller; called once the writer can take more after `write` returned false. */
  onDrain: (() => void) | undefined;
  /**
   * True when the writer holds no reference to a chunk once `write` returned true,
   * nor after it called `onDrain` (uWS's `tryEnd`/`write` copy what they do not send
   * at once). A source may then reuse its buffer for the next chunk, which saves an
   * allocation and its page faults per chunk: measured on 1 GiB files, 0.75 s of
   * CPU per GiB instead of 1.2 (native-notes/files.md). A transform that queues chunks
   * (compression) leaves it unset: sources then allocate a new buffer per chunk.
   */
  readonly copiesChunks?: boolean;
}

/** Something that produces a body (a file, a cached entry) into a BodyWriter. */
export interface BodySource {
  /** Bytes the source will produce, or -1 when unknown (then the response is chunked). */
  readonly length: number;
  /** Starts writing into `writer`; ends it with `end()` or `abort()`. Called once. */
  start(writer: BodyWriter): void;
  /**
   * The client went away (or the response was never started): release files and
   * timers, write nothing more. Also the way to release a source that is never started.
   */
  cancel(): void;
}

/**
 * A response head as the pipeline's `responseHead` hook sees it: what compression
 * and X-Sendfile read and edit. Names are case-insensitive (given lowercase here).
 */
export interface ResponseHead {
  status: number;
  /** The first value of a header, or undefined. */
  get(name: string): string | undefined;
  /** Replaces every value of `name` with one. */
  set(name: string, value: string): void;
  /** Removes every value of `name`. */
  remove(name: string): void;
  /** The declared Content-Length, -1 when unknown (chunked). */
  readonly contentLength: number;
}
