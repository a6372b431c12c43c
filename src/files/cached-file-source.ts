/**
 * A BodySource over bytes already in memory (a cached small file): the parts of a
 * FileResponse are cut from the buffer without copying, and written with
 * backpressure like any other source.
 *
 * @module
 */
import type { BodySource, BodyWriter } from '../pipeline/body.js';
import { bodyLength } from './file-body-source.js';
import type { BodyPart } from './file-response.js';

export class CachedFileSource implements BodySource {
  readonly length: number;
  readonly #content: Buffer;
  readonly #parts: readonly BodyPart[];
  #next = 0;
  #writer: BodyWriter | undefined = undefined;
  #aborted = false;
  readonly #resume = () => this.#pump();

  constructor(content: Buffer, parts: readonly BodyPart[]) {
    this.#content = content;
    this.#parts = parts;
    this.length = bodyLength(parts);
  }

  start(writer: BodyWriter): void {
    if (this.#writer !== undefined) throw new Error('CachedFileSource: started twice');
    this.#writer = writer;
    this.#pump();
  }

  cancel(): void {
    this.#aborted = true;
  }

  #pump(): void {
    const writer = this.#writer!;
    while (!this.#aborted) {
      const part = this.#parts[this.#next];
      if (part === undefined) {
        this.#aborted = true; // done: a late onDrain must not end twice
        writer.end();
        return;
      }
      this.#next++;
      const chunk = Buffer.isBuffer(part) ? part : this.#content.subarray(part.start, part.end + 1);
      if (!writer.write(chunk)) {
        // A writer calls onDrain once and forgets it: given again at every push-back.
        writer.onDrain = this.#resume;
        return;
      }
    }
  }
}
