/**
 * A response's status and headers as filters see and change them.
 *
 * From undici the headers arrive as raw `[name, value, ...]` Buffers; the plain
 * proxy path hands those to uWS untouched and never builds a ResponseHead at all.
 * Only a route whose filters look at response heads pays for one, and even then
 * strings are made only when a filter reads or edits a header. Header names keep
 * the case the upstream used; lookups ignore case.
 *
 * @module
 */
import { isValidContentLength } from './headers.js';

export class ResponseHead {
  status: number;
  /** The reason phrase to send ('' for the standard one). */
  statusText: string;
  /** Raw headers from undici until a filter touches them. */
  #raw: Buffer[] | undefined;
  /** Flat [name, value, ...] once materialised (or when built by warpdrive). */
  #pairs: string[] | undefined;

  constructor(status: number, statusText: string, raw: Buffer[] | undefined, pairs?: string[]) {
    this.status = status;
    this.statusText = statusText;
    this.#raw = raw;
    this.#pairs = pairs ?? (raw === undefined ? [] : undefined);
  }

  /** Raw headers, when nothing has been read or changed (the sink then writes the bytes as they came). */
  get raw(): Buffer[] | undefined {
    return this.#pairs === undefined ? this.#raw : undefined;
  }

  /** The headers as flat [name, value, ...] strings. */
  get pairs(): string[] {
    if (this.#pairs === undefined) {
      const raw = this.#raw!;
      const pairs = new Array<string>(raw.length);
      // latin1: header bytes map one to one onto string code units and back.
      for (let i = 0; i < raw.length; i++) pairs[i] = raw[i]!.toString('latin1');
      this.#pairs = pairs;
      this.#raw = undefined;
    }
    return this.#pairs;
  }

  /** The first value of `name` (any case), or undefined. */
  get(name: string): string | undefined {
    const pairs = this.pairs;
    const lower = name.toLowerCase();
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i]!.toLowerCase() === lower) return pairs[i + 1];
    return undefined;
  }

  /** Every value of `name` (any case), in order. */
  getAll(name: string): string[] {
    const pairs = this.pairs;
    const lower = name.toLowerCase();
    const values: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i]!.toLowerCase() === lower) values.push(pairs[i + 1]!);
    return values;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces every `name` header with one of `value`. */
  set(name: string, value: string): this {
    this.remove(name);
    this.pairs.push(name, value);
    return this;
  }

  append(name: string, value: string): this {
    this.pairs.push(name, value);
    return this;
  }

  remove(name: string): this {
    const pairs = this.pairs;
    const lower = name.toLowerCase();
    let write = 0;
    for (let read = 0; read < pairs.length; read += 2) {
      if (pairs[read]!.toLowerCase() === lower) continue;
      pairs[write++] = pairs[read]!;
      pairs[write++] = pairs[read + 1]!;
    }
    pairs.length = write;
    return this;
  }

  /** Declared Content-Length, or -1 when absent or not a number. */
  get contentLength(): number {
    const value = this.get('content-length');
    if (value === undefined || !isValidContentLength(value)) return -1;
    return Number(value);
  }
}
