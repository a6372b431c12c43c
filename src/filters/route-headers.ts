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

  constructor(pairs: readonly HeaderPair[]) {
    this.#replaced = new Set(pairs.map((h) => h.name.toLowerCase()));
    this.#added = pairs.flatMap((h) => [h.name.toLowerCase(), h.value]);
  }

  upstreamRequest(_x: Exchange, headers: string[]): void {
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
