/**
 * A body held in one Buffer: how a stored response's bytes are served. It keeps
 * no state of its own, so one instance per entry serves every hit.
 *
 * @module
 */
import type { BodySource, BodyWriter } from './cache-exchange.js';

export class BufferSource implements BodySource {
  readonly length: number;
  readonly #chunk: Buffer;

  constructor(chunk: Buffer) {
    this.#chunk = chunk;
    this.length = chunk.length;
  }

  /** One write (uWS queues what the socket cannot take at once), then the end. */
  start(writer: BodyWriter): void {
    if (this.length > 0) writer.write(this.#chunk);
    writer.end();
  }

  cancel(): void {}
}
