/**
 * X-Forwarded-For/-Proto/-Host on the upstream request (`[middleware]
 * forward_headers`, on by default). From a trusted peer (`trusted_proxies`) the
 * incoming chain is kept and the peer appended (nginx's
 * `$proxy_add_x_forwarded_for`); from anyone else the incoming values are
 * replaced, so a client cannot forge its address. With forward_headers off this
 * filter is absent and capture.ts passes the client's values through untouched.
 *
 * @module
 */
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import type { TrustedProxies } from './trusted-proxies.js';

export class ForwardedHeadersFilter implements Filter {
  readonly name = 'forward_headers';
  readonly #trusted: TrustedProxies;

  constructor(trusted: TrustedProxies) {
    this.#trusted = trusted;
  }

  upstreamRequest(x: Exchange, headers: string[]): void {
    const trusted = x.xForwardedFor !== undefined || x.xForwardedProto !== undefined || x.xForwardedHost !== undefined
      ? this.#trusted.isTrusted(x.clientIp)
      : false;
    if (trusted) {
      headers.push('x-forwarded-for', x.xForwardedFor === undefined ? x.clientIp : `${x.xForwardedFor}, ${x.clientIp}`);
      headers.push('x-forwarded-proto', x.xForwardedProto ?? x.scheme);
      headers.push('x-forwarded-host', x.xForwardedHost ?? x.rawHost ?? '');
    } else {
      headers.push('x-forwarded-for', x.clientIp);
      headers.push('x-forwarded-proto', x.scheme);
      headers.push('x-forwarded-host', x.rawHost ?? '');
    }
  }
}
