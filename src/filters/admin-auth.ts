/**
 * `require_auth = true`: the request must carry `X-Admin-Token` equal to the
 * admin token (`[middleware] admin_token` or WARPDRIVE_ADMIN_TOKEN), compared in
 * constant time; otherwise 401. The token itself is never forwarded (capture.ts
 * files it apart), and a request carrying two is refused before routing.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { errors } from '../pipeline/errors.js';
import type { Exchange } from '../pipeline/exchange.js';
import { Verdict, type Filter } from '../pipeline/filter.js';

export class AdminAuthFilter implements Filter {
  readonly name = 'admin_auth';
  readonly #expected: Buffer;

  constructor(token: string) {
    this.#expected = Buffer.from(token);
  }

  request(x: Exchange): Verdict {
    const token = x.adminToken;
    if (token !== undefined) {
      const given = Buffer.from(token);
      if (given.length === this.#expected.length && timingSafeEqual(given, this.#expected)) return Verdict.Continue;
    }
    x.fail(errors.unauthorized);
    return Verdict.Answered;
  }
}
