/**
 * `[tls] hsts_max_age_secs` (opt-in): `Strict-Transport-Security` on responses
 * sent over HTTPS, so browsers use https:// for this host without asking first.
 * Never on plain HTTP, where RFC 6797 says browsers must ignore it. The header
 * value is built once from the configuration.
 *
 * @module
 */
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import type { ResponseHead } from '../pipeline/response-head.js';

export class HstsFilter implements Filter {
  readonly name = 'hsts';
  readonly #value: string;

  constructor(headerValue: string) {
    this.#value = headerValue;
  }

  responseHead(x: Exchange, head: ResponseHead): void {
    if (x.scheme === 'https') head.set('strict-transport-security', this.#value);
  }
}
