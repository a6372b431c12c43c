/**
 * `[tls] redirect_http` (on by default with TLS): a plain-HTTP request is answered
 * with 308 to the same URL on https://, which keeps the method and body (unlike
 * 301/302). Only where an HTTPS handshake can succeed: a name still waiting for its
 * first ACME certificate gets a 503 page saying so (with Retry-After), and a name
 * no certificate covers (an IP address, an unlisted host) is served over HTTP.
 * Routes with `https_redirect = false` (health checks) do not get this filter.
 * ACME challenges never reach it: the pipeline answers them before routing.
 *
 * @module
 */
import type { Exchange } from '../pipeline/exchange.js';
import { Verdict, type Filter } from '../pipeline/filter.js';
import type { ThreadTls } from '../tls/thread-tls.js';

const PENDING_HEADERS = ['content-type', 'text/html; charset=utf-8', 'retry-after', '30', 'cache-control', 'no-store'] as const;

function pendingPage(host: string): string {
  return (
    '<!doctype html><html><head><meta charset="utf-8"><title>Certificate on its way</title></head><body>' +
    `<h1>The HTTPS certificate for ${host} is being obtained</h1>` +
    '<p>This site has just been set up, and its certificate is being ordered from the certificate authority. ' +
    'This usually takes less than a minute. Please try again shortly.</p></body></html>\n'
  );
}

export class HttpsRedirectFilter implements Filter {
  readonly name = 'https_redirect';
  readonly #tls: ThreadTls;

  constructor(tls: ThreadTls) {
    this.#tls = tls;
  }

  request(x: Exchange): Verdict {
    if (x.scheme === 'https') return Verdict.Continue;
    const tls = this.#tls;
    if (tls.covers(x.host)) {
      const target = `https://${x.host}${tls.portSuffix}${x.path}${x.query === '' ? '' : `?${x.query}`}`;
      x.respond(308, ['location', target, 'content-type', 'text/plain'], `Moved to ${target}\n`, 'Permanent Redirect');
      return Verdict.Answered;
    }
    if (tls.awaitsFirstCertificate(x.host)) {
      x.respond(503, PENDING_HEADERS, pendingPage(x.host), 'Service Unavailable');
      return Verdict.Answered;
    }
    return Verdict.Continue;
  }
}
