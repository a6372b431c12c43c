/**
 * `[middleware] request_start_header = true`: `X-Request-Start: t=<microseconds
 * since the epoch>` on the upstream request, taken when warpdrive received the
 * request. APM agents for Rails (New Relic, Scout, Judoscale...) subtract it from
 * the time the app starts on the request to report queue time: how long requests
 * waited for a free Puma thread.
 *
 * A trusted hop's value (a load balancer in `trusted_proxies` that stamps it
 * earlier) is kept; anyone else's is replaced.
 *
 * @module
 */
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import { takeHeader } from './take-header.js';
import type { TrustedProxies } from './trusted-proxies.js';

export class RequestStartFilter implements Filter {
  readonly name = 'request_start_header';
  readonly #trusted: TrustedProxies;

  constructor(trusted: TrustedProxies) {
    this.#trusted = trusted;
  }

  upstreamRequest(x: Exchange, headers: string[]): void {
    const incoming = takeHeader(headers, 'x-request-start');
    const value = incoming !== undefined && this.#trusted.isTrusted(x.clientIp) ? incoming : `t=${Math.round((performance.timeOrigin + x.startedAt) * 1000)}`;
    headers.push('x-request-start', value);
  }
}
