/**
 * `[middleware] request_id` (on by default): every proxied request carries an
 * `X-Request-Id` upstream, and the access log shows it (`rid=`), so a line in
 * warpdrive's log and one in the app's (Rails logs `request.request_id`, which
 * ActionDispatch::RequestId takes from this header) name the same request.
 *
 * An id a trusted hop sent (a load balancer in `trusted_proxies`) is passed on, if
 * it is a sane token; from anyone else it is replaced, so a client cannot plant
 * an id in the logs. Generated ids are a random per-thread prefix and a counter:
 * unique within and across warpdrive's runs without a random draw per request.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import { takeHeader } from './take-header.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** What an incoming id may look like to be kept: Rails keeps word characters, '-' and '@'; at most 200 of them. */
const acceptableId = /^[\w\-@.:]{1,200}$/;

/** Ids for one proxy thread: `<12 random hex>-<counter in base 36>`. */
export class RequestIdGenerator {
  readonly #prefix = `${randomBytes(6).toString('hex')}-`;
  #counter = 0;

  next(): string {
    return this.#prefix + (++this.#counter).toString(36);
  }
}

export class RequestIdFilter implements Filter {
  readonly name = 'request_id';
  readonly #trusted: TrustedProxies;
  readonly #ids: RequestIdGenerator;

  constructor(trusted: TrustedProxies, ids: RequestIdGenerator) {
    this.#trusted = trusted;
    this.#ids = ids;
  }

  upstreamRequest(x: Exchange, headers: string[]): void {
    const incoming = takeHeader(headers, 'x-request-id');
    x.requestId = incoming !== undefined && acceptableId.test(incoming) && this.#trusted.isTrusted(x.clientIp) ? incoming : this.#ids.next();
    headers.push('x-request-id', x.requestId);
  }
}
