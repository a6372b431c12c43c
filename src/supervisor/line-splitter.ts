/**
 * Turns a child's output stream into whole lines, so that lines of different
 * children never interleave mid-line in warpdrive's log. Memory is bounded: a
 * line longer than `maxLineBytes` is cut and reported in pieces, each marked.
 *
 * @module
 */

const newline = 0x0a;
const carriageReturn = 0x0d;

export class LineSplitter {
  readonly #onLine: (line: string) => void;
  readonly #maxLineBytes: number;
  /** Bytes of the unfinished line, kept as the chunks that carried them. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(onLine: (line: string) => void, maxLineBytes = 16 * 1024) {
    this.#onLine = onLine;
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(newline, start);
      if (end < 0) break;
      this.#emit(this.#take(chunk.subarray(start, end)));
      start = end + 1;
    }
    if (start < chunk.length) this.#keep(chunk.subarray(start));
  }

  /** The stream ended: an unterminated last line is still a line. */
  end(): void {
    if (this.#pendingBytes > 0) this.#emit(this.#take(Buffer.alloc(0)));
  }

  #keep(rest: Buffer): void {
    // Copy: the stream may reuse its buffer after 'data' returns.
    let remaining = Buffer.from(rest);
    while (this.#pendingBytes + remaining.length > this.#maxLineBytes) {
      const room = this.#maxLineBytes - this.#pendingBytes;
      const piece = this.#take(remaining.subarray(0, room));
      this.#onLine(`${piece} [line continues]`);
      remaining = remaining.subarray(room);
    }
    if (remaining.length > 0) {
      this.#pending.push(remaining);
      this.#pendingBytes += remaining.length;
    }
  }

  #take(tail: Buffer): string {
    let bytes = tail;
    if (this.#pending.length > 0) {
      this.#pending.push(tail);
      bytes = Buffer.concat(this.#pending);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    if (bytes.length > this.#maxLineBytes) {
      // A complete line that arrived in one chunk can still be too long.
      const cut = bytes.subarray(0, this.#maxLineBytes);
      return `${cut.toString('utf8')} [line cut at ${this.#maxLineBytes} bytes]`;
    }
    return bytes.toString('utf8');
  }

  #emit(line: string): void {
    // CRLF output (Windows-minded tools) should not leave a stray \r in the log.
    this.#onLine(line.charCodeAt(line.length - 1) === carriageReturn ? line.slice(0, -1) : line);
  }
}
