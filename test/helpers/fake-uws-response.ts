/**
 * An in-memory stand-in for uWS's HttpResponse, recording every call, for the
 * in-process pipeline tests (test/pipeline/). It models what those tests rely
 * on: cork grouping, `tryEnd` completing at the declared length (or reporting
 * backpressure when told to), chunked `write`, and the end calls. What reaches a
 * real client is covered by the end-to-end suites under test/integration/.
 *
 * @module
 */
import type { HttpResponse } from 'uWebSockets.js';

export type Call =
  | { readonly op: 'status'; readonly line: string }
  | { readonly op: 'header'; readonly name: string; readonly value: string }
  | { readonly op: 'write'; readonly data: string }
  | { readonly op: 'tryEnd'; readonly data: string; readonly total: number }
  | { readonly op: 'end'; readonly data: string; readonly close: boolean }
  | { readonly op: 'endWithoutBody'; readonly length: number | undefined; readonly close: boolean }
  | { readonly op: 'close' };

function text(data: unknown): string {
  if (data === undefined || data === null) return '';
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('latin1');
  return Buffer.from(data as Uint8Array).toString('latin1');
}

export class FakeResponse {
  readonly calls: Call[] = [];
  /** Calls grouped by cork: one array per res.cork() (what uWS flushes in one write). */
  readonly corks: Call[][] = [];
  #corked: Call[] | undefined;
  #written = 0;
  #aborted: (() => void) | undefined;
  #writable: ((offset: number) => boolean) | undefined;
  /** When set, tryEnd/write report backpressure (nothing is taken). */
  congested = false;
  ended = false;

  get asResponse(): HttpResponse {
    return this as unknown as HttpResponse;
  }

  #record(call: Call): void {
    if (this.ended) throw new Error(`uWS would throw: ${call.op} after the response ended`);
    this.calls.push(call);
    (this.#corked ?? (this.corks[this.corks.length] = [])).push(call);
  }

  cork(fn: () => void): this {
    if (this.#corked) {
      fn();
      return this;
    }
    this.#corked = [];
    try {
      fn();
    } finally {
      if (this.#corked.length > 0) this.corks.push(this.#corked);
      this.#corked = undefined;
    }
    return this;
  }

  onAborted(handler: () => void): this {
    this.#aborted = handler;
    return this;
  }

  onWritable(handler: (offset: number) => boolean): this {
    this.#writable = handler;
    return this;
  }

  onData(): this {
    return this;
  }

  getRemoteAddressAsText(): ArrayBuffer {
    return new TextEncoder().encode('127.0.0.1').buffer;
  }

  getWriteOffset(): number {
    return this.#written;
  }

  writeStatus(line: string): this {
    this.#record({ op: 'status', line });
    return this;
  }

  writeHeader(name: unknown, value: unknown): this {
    this.#record({ op: 'header', name: text(name), value: text(value) });
    return this;
  }

  write(data: unknown): boolean {
    this.#record({ op: 'write', data: text(data) });
    return !this.congested;
  }

  tryEnd(data: unknown, total: number): [boolean, boolean] {
    if (this.congested) return [false, false];
    const chunk = text(data);
    this.#record({ op: 'tryEnd', data: chunk, total });
    this.#written += chunk.length;
    const done = this.#written >= total;
    if (done) this.ended = true;
    return [true, done];
  }

  end(data?: unknown, close = false): this {
    this.#record({ op: 'end', data: text(data), close });
    this.ended = true;
    return this;
  }

  endWithoutBody(length?: number, close = false): this {
    this.#record({ op: 'endWithoutBody', length, close });
    this.ended = true;
    return this;
  }

  close(): this {
    this.#record({ op: 'close' });
    this.ended = true;
    return this;
  }

  /** The client goes away (uWS calls onAborted). */
  abortFromClient(): void {
    this.ended = true;
    this.#aborted?.();
  }

  /** The client drained: uWS calls onWritable with the current offset. */
  drain(): boolean {
    this.congested = false;
    return this.#writable?.(this.#written) ?? true;
  }

  /** Headers written, as [name, value] pairs. */
  headers(): Array<[string, string]> {
    return this.calls.filter((c): c is Extract<Call, { op: 'header' }> => c.op === 'header').map((c) => [c.name, c.value]);
  }

  /** Body bytes handed over (write/tryEnd/end). */
  body(): string {
    return this.calls.map((c) => (c.op === 'write' || c.op === 'tryEnd' || c.op === 'end' ? c.data : '')).join('');
  }
}
