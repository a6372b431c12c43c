/**
 * A ResponseHead over a plain list, for unit tests of the filters' head logic
 * (the pipeline supplies the real one).
 */
import type { ResponseHead } from '../../src/body/types.js';

export class MapResponseHead implements ResponseHead {
  status: number;
  /** [name, value] pairs in order, names as given. */
  readonly headers: [string, string][];

  constructor(status: number, headers: Record<string, string> = {}) {
    this.status = status;
    this.headers = Object.entries(headers);
  }

  get(name: string): string | undefined {
    return this.headers.find(([n]) => n.toLowerCase() === name)?.[1];
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.headers.push([name, value]);
  }

  remove(name: string): void {
    for (let i = this.headers.length - 1; i >= 0; i--) if (this.headers[i]![0].toLowerCase() === name) this.headers.splice(i, 1);
  }

  get contentLength(): number {
    const value = this.get('content-length');
    return value === undefined ? -1 : Number(value);
  }

  /** The headers as a lowercase-keyed object, for deepEqual. */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.headers.map(([n, v]) => [n.toLowerCase(), v]));
  }
}
