/**
 * The request pipeline of one proxy thread, in the order a request lives:
 *
 *   accept        uWS hands over `res`/`req`; an Exchange captures what it needs
 *                 while `req` is valid (capture.ts)
 *   validate      framing, Host, path, sizes: anything ambiguous is answered here
 *                 and never forwarded
 *   route         the current generation's compiled router picks the route
 *   request       the route's request filters (auth, later cache lookup, static
 *                 files...) may answer, or suspend and resume
 *   upstream req  upstreamRequest filters edit the headers (forwarded headers,
 *                 add_headers)
 *   select        the upstream's selector picks an available instance (ip_hash on
 *                 the client behind trusted proxies), or the request waits for a
 *                 starting process, or gets 503
 *   dispatch      HTTP: the Exchange dispatches to the instance's undici pool and
 *                 relays the answer through responseHead filters and the body
 *                 writer chain to the ResponseSink. WebSocket upgrade: the gateway
 *                 opens the upstream WebSocket and hands both sides to a Bridge.
 *   done          the route's done filters (access log), then counters
 *
 * Plain requests and WebSocket upgrades run the same phases up to the dispatch,
 * so routing, auth, forwarded headers, add_headers, path rewriting and ip_hash
 * cannot drift apart between the two.
 *
 * The pipeline outlives configuration generations: `swap` replaces the
 * generation new requests take, in one assignment.
 *
 * @module
 */
import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import type { Generation } from '../runtime/generation.js';
import { normalizeHost } from '../router/normalize-host.js';
import { normalizePath, normalizeQuery } from '../router/normalize-path.js';
import { captureHeaders, captureMethod } from './capture.js';
import { errors } from './errors.js';
import { Exchange, setInsideRequestCallback, type ExchangeOwner } from './exchange.js';
import { Verdict } from './filter.js';
import { connectionTokens } from './headers.js';
import { RequestBodySource } from './request-body.js';
import { ACME_CHALLENGE_PREFIX, challengeToken } from '../tls/challenge-board.js';
import type { ThreadTls } from '../tls/thread-tls.js';

const CHALLENGE_HEADERS = ['content-type', 'text/plain'] as const;

/** How long a request waits for an upstream whose process is still starting. */
const STARTING_UPSTREAM_WAIT_MS = 30_000;

/** Where upgrades go once the request phases have chosen a route: the WebSocket gateway. */
export interface UpgradeHandler {
  /** Selects an instance, connects, and answers the client (101 or a refusal). */
  connect(x: Exchange): void;
}

export class Pipeline implements ExchangeOwner {
  #generation: Generation;
  readonly #thread: number;
  #upgrades: UpgradeHandler | undefined;
  #tls: ThreadTls | undefined;
  #inFlight = 0;
  #draining = false;
  #drained: (() => void) | undefined;
  /** While `cut` runs: the requests it ended. */
  #cut: string[] | undefined;

  constructor(generation: Generation, thread: number) {
    this.#generation = generation;
    this.#thread = thread;
  }

  /** The generation new requests take. */
  get generation(): Generation {
    return this.#generation;
  }

  /** Makes `next` the generation of every request from now on; returns the one it replaces. */
  swap(next: Generation): Generation {
    const previous = this.#generation;
    this.#generation = next;
    return previous;
  }

  setUpgradeHandler(handler: UpgradeHandler): void {
    this.#upgrades = handler;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Requests (and upgrades not yet answered) in flight on this thread. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Answers ACME HTTP-01 challenges on plain HTTP, before routing; set while TLS is on. */
  setThreadTls(tls: ThreadTls | undefined): void {
    this.#tls = tls;
  }

  /** The uWS `any('/*')` handler of the plain-HTTP listener. */
  handleRequest(res: HttpResponse, req: HttpRequest): void {
    this.#request(res, req, 'http');
  }

  /** The `any('/*')` handler of the HTTPS listener (src/ingress/tls-server.ts). */
  handleSecureRequest(res: HttpResponse, req: HttpRequest): void {
    this.#request(res, req, 'https');
  }

  #request(res: HttpResponse, req: HttpRequest, scheme: 'http' | 'https'): void {
    const x = new Exchange(this, this.#generation.acquire(), res, this.#thread);
    x.scheme = scheme;
    this.#inFlight++;
    setInsideRequestCallback(true);
    try {
      x.method = captureMethod(req);
      this.#accept(x, req);
    } finally {
      setInsideRequestCallback(false);
    }
  }

  /** The uWS WebSocket `upgrade` handler: the same phases, then the gateway. */
  handleUpgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, scheme: 'http' | 'https' = 'http'): void {
    const x = new Exchange(this, this.#generation.acquire(), res, this.#thread);
    x.scheme = scheme;
    this.#inFlight++;
    x.upgradeContext = context;
    x.method = 'GET';
    setInsideRequestCallback(true);
    try {
      if (this.#draining) return x.fail(errors.shuttingDown);
      this.#accept(x, req);
    } finally {
      setInsideRequestCallback(false);
    }
  }

  // --- ExchangeOwner -----------------------------------------------------------

  resumeFilters(x: Exchange): void {
    this.#runRequestFilters(x, x.filterIndex);
  }

  /** After the request filters: upstream request filters, instance selection, dispatch. */
  proceed(x: Exchange): void {
    const route = x.route!;
    const upstream = route.upstream;
    // A files-only route's filter answers every request; should one get here, nothing is behind it.
    if (upstream === undefined) return x.fail(errors.noRoute);
    const filters = route.filters.upstreamRequest;
    if (filters !== undefined) for (let i = 0; i < filters.length; i++) filters[i]!.upstreamRequest!(x, x.upstreamHeaders);
    x.balanceIp = upstream.spec.strategy === 'ip_hash' && x.xForwardedFor !== undefined ? this.#forwardedClient(x) : x.clientIp;
    if (x.upgradeContext !== undefined) return this.#upgrades!.connect(x);
    const instance = upstream.select(x.balanceIp);
    if (instance !== undefined) return x.dispatchTo(instance);
    if (upstream.isStarting()) {
      void upstream.waitForInstance(x.balanceIp, STARTING_UPSTREAM_WAIT_MS).then((waited) => {
        if (x.finished) return;
        if (waited) x.dispatchTo(waited);
        else x.fail(errors.noInstance);
      });
      return;
    }
    x.fail(errors.noInstance);
  }

  exchangeFinished(x: Exchange): void {
    this.#inFlight--;
    if (this.#draining) {
      this.#cut?.push(describeCut(x));
      if (this.#inFlight === 0) this.#drained?.();
    }
  }

  /** Stops taking new work on existing connections gracefully and resolves when in-flight requests are done. */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

  /**
   * The end of a drain that ran out of time: `closeConnections` cuts every client
   * connection (uWS then aborts each request still in flight, which cancels its
   * upstream request); returns what was cut, one line each, for the log.
   */
  cut(closeConnections: () => void): string[] {
    const cut: string[] = [];
    this.#cut = cut;
    try {
      closeConnections();
    } finally {
      this.#cut = undefined;
    }
    return cut;
  }

  // --- phases --------------------------------------------------------------------

  /** accept + validate + route, inside uWS's callback while `req` is valid. */
  #accept(x: Exchange, req: HttpRequest): void {
    const generation = x.generation;
    const settings = generation.settings;
    const upgrade = x.upgradeContext !== undefined;
    const rawPath = req.getUrl();
    const rawQuery = req.getQuery() ?? '';
    // As received until normalised below, so that the access log shows what a refused request asked for.
    x.path = rawPath;
    captureHeaders(req, x, upgrade, !settings.forwardHeaders);
    if (settings.captureClientIp) x.clientIp = x.sink.remoteAddress();
    x.sink.isHeadRequest = x.method === 'HEAD';

    // --- validate: anything ambiguous is answered here and never forwarded -------
    if (x.headerBytes > settings.maxHeaderBytes) return x.fail(errors.headersTooLarge);
    if (x.framingError || (x.contentLength !== undefined && x.transferEncoding !== undefined)) return x.fail(errors.ambiguousFraming);
    if (x.transferEncoding !== undefined && settings.rejectChunkedBodies) return x.fail(errors.lengthRequired);
    if (x.hostCount > 1) return x.fail(errors.badHost);
    if (x.adminTokenCount > 1) return x.fail(errors.repeatedAdminToken);
    if (x.undecodableHeader) return x.fail(errors.undecodableHeader);
    if (x.method === 'CONNECT' || x.method === 'TRACE') return x.fail(errors.methodNotImplemented);
    if (upgrade && x.secWebSocketKey === '') return x.fail(errors.badRequest);
    // One host normaliser for the proxy, WebSocket upgrades and `routes --explain`.
    const host = x.rawHost === undefined || x.rawHost === '' ? '' : normalizeHost(x.rawHost);
    if (host === undefined) return x.fail(errors.badHost);
    x.host = host;
    const path = normalizePath(rawPath);
    if (path === undefined) return x.fail(errors.badPath);
    x.path = path;
    const query = rawQuery === '' ? '' : normalizeQuery(rawQuery);
    if (query === undefined) return x.fail(errors.badPath);
    x.query = query;

    if (!upgrade) {
      const contentLength = x.contentLength === undefined ? 0 : Number(x.contentLength);
      if (contentLength > settings.maxBodyBytes) return x.fail(errors.bodyTooLarge);
      if (contentLength > 0 || x.transferEncoding !== undefined) this.#attachBody(x, settings.maxBodyBytes);
    }
    if (x.connectionHeader !== undefined) dropConnectionListed(x.upstreamHeaders, x.connectionHeader);

    // --- ACME HTTP-01: answered before routing, on plain HTTP only (RFC 8555 8.3) ---
    if (this.#tls !== undefined && x.scheme === 'http' && path.charCodeAt(1) === 46 /* "." */ && path.startsWith(ACME_CHALLENGE_PREFIX)) {
      return this.#answerChallenge(x, this.#tls, path);
    }
    // The cache's admin endpoint, when on, comes before any application route.
    const purge = generation.purge;
    if (purge !== undefined && path === purge.path) return purge.handle(x);

    // --- route -----------------------------------------------------------------
    const route = generation.router.match(x.method, host, path, x);
    if (route === undefined) return x.fail(errors.noRoute);
    x.route = route;
    this.#runRequestFilters(x, 0);
  }

  #answerChallenge(x: Exchange, tls: ThreadTls, path: string): void {
    const token = challengeToken(path);
    const reply = (keyAuthorization: string | undefined): void => {
      if (keyAuthorization === undefined) x.respond(404, CHALLENGE_HEADERS, 'no such ACME challenge\n');
      else x.respond(200, CHALLENGE_HEADERS, keyAuthorization);
    };
    const known = token === undefined ? undefined : tls.challenges.answer(token);
    if (known !== undefined || token === undefined) return reply(known);
    // Another node's order, announced later than the CA asks: look in the shared store.
    void tls.challenges.lookup(token).then(reply, () => reply(undefined));
  }

  #runRequestFilters(x: Exchange, from: number): void {
    const filters = x.route!.filters.request;
    if (filters !== undefined) {
      for (let i = from; i < filters.length; i++) {
        const verdict = filters[i]!.request!(x);
        if (verdict === Verdict.Continue) continue;
        if (verdict === Verdict.Suspended) x.filterIndex = i + 1;
        return;
      }
    }
    this.proceed(x);
  }

  #attachBody(x: Exchange, limit: number): void {
    const res = x.sink.res;
    const body = new RequestBodySource(res);
    x.body = body;
    if (limit === Number.POSITIVE_INFINITY) {
      res.onData(body.push.bind(body));
      return;
    }
    res.onData((chunk, isLast) => {
      if (x.finished) return;
      if (body.received + chunk.byteLength > limit) {
        x.fail(errors.bodyTooLarge);
        return;
      }
      body.push(chunk, isLast);
    });
  }

  /**
   * The client behind trusted proxies: walking X-Forwarded-For from the right, the
   * first address that is not itself a trusted proxy (nginx's realip with
   * `real_ip_recursive on`). From an untrusted peer the header proves nothing: the
   * peer itself is the client. Only asked for ip_hash upstreams.
   */
  #forwardedClient(x: Exchange): string {
    const trusted = x.generation.settings.trusted;
    if (!trusted.isTrusted(x.clientIp)) return x.clientIp;
    const hops = x.xForwardedFor!.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (hop !== '' && !trusted.isTrusted(hop)) return hop;
    }
    return hops[0]!.trim() || x.clientIp;
  }
}

/** `GET /events (events#0, 31.2 s)`: a request cut at shutdown, for the log. */
function describeCut(x: Exchange): string {
  const where = x.lastInstance?.id ?? x.route?.spec.upstream ?? 'no upstream yet';
  return `${x.method} ${x.path} (${where}, ${((performance.now() - x.startedAt) / 1000).toFixed(1)} s)`;
}

/** Removes the headers a `Connection` header names (hop-by-hop by declaration). */
function dropConnectionListed(headers: string[], value: string): void {
  const tokens = connectionTokens(value);
  if (tokens.length === 0) return;
  let write = 0;
  for (let read = 0; read < headers.length; read += 2) {
    if (tokens.includes(headers[read]!)) continue;
    headers[write++] = headers[read]!;
    headers[write++] = headers[read + 1]!;
  }
  headers.length = write;
}
