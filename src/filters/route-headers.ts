/**
 * A route's `add_headers`: set on the upstream request, replacing any header of
 * the same name the client sent (so a client cannot forge `X-Backend`). Runs
 * after the forwarded headers, so `add_headers` may override `X-Forwarded-Host`
 * as the design document's example does.
 *
 * @module
 */
import type { HeaderPair } from '../config/types.js';
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';

export class RouteHeadersFilter implements Filter {
  readonly name = 'add_headers';
  /** Lowercase names: incoming headers of these names are dropped. */
  readonly #replaced: ReadonlySet<string>;
  /** Flat [name, value, ...], names lowercase, built once. */
  readonly #added: readonly string[];
  /** A value holds characters outside ASCII: the request's headers must be sent as UTF-8 (capture.ts). */
  readonly #nonAscii: boolean;

  constructor(pairs: readonly HeaderPair[]) {
    this.#replaced = new Set(pairs.map((h) => h.name.toLowerCase()));
    this.#added = pairs.flatMap((h) => [h.name.toLowerCase(), h.value]);
    this.#nonAscii = pairs.some((h) => Buffer.byteLength(h.value) !== h.value.length);
  }

  upstreamRequest(x: Exchange, headers: string[]): void {
    if (this.#nonAscii) x.nonAsciiHeaders = true;
    const replaced = this.#replaced;
    let write = 0;
    for (let read = 0; read < headers.length; read += 2) {
      if (replaced.has(headers[read]!)) continue;
      headers[write++] = headers[read]!;
      headers[write++] = headers[read + 1]!;
    }
    headers.length = write;
    const added = this.#added;
    for (let i = 0; i < added.length; i++) headers.push(added[i]!);
  }
}
