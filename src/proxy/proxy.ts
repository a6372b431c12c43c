/**
 * The request pipeline, in Pingora's phase order:
 *
 *   ingress capture -> validate framing -> route -> requestFilter (auth)
 *   -> selectInstance -> upstreamRequestFilter (headers) -> dispatch -> logging
 *
 * `handleRequest` runs inside uWS's request callback: everything it needs from
 * `req` (valid only during that callback) is copied into the Session first, and
 * `onAborted` is attached before anything can go async.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { RuntimePlan } from '../config/types.js';
import { createLogger } from '../log.js';
import { LogSink } from '../log-sink.js';
import { normalizePath } from '../router/normalize-path.js';
import type { Router } from '../router/types.js';
import { formatRemoteAddress } from './client-address.js';
import { addForwardedHeaders, applyRouteHeaders } from './forwarded.js';
import { RequestHeaderKind, connectionTokens, isValidContentLength, routingHost } from './headers.js';
import { collectRequestHeader } from './request-headers.js';
import { RequestBodySource } from './request-body.js';
import type { ProxyRoute } from './route.js';
import { Session, type SessionOwner } from './session.js';
import { TrustedProxies } from './trusted-proxies.js';

const log = createLogger('proxy');

/** uWS reports methods lowercased; these are the uppercase forms, interned once. */
const upperMethods = new Map<string, string>(
  ['get', 'head', 'post', 'put', 'delete', 'patch', 'options', 'trace', 'connect'].map((m) => [m, m.toUpperCase()]),
);

/** How long a request waits for an upstream whose process is still starting. */
const STARTING_UPSTREAM_WAIT_MS = 30_000;

// forEach target: set right before the synchronous req.forEach(collectHeader),
// so that walking the headers allocates no closure per request.
let collecting: Session;
function collectHeader(name: string, value: string): void {
  const session = collecting;
  switch (collectRequestHeader(session, name, value)) {
    case RequestHeaderKind.ContentLength:
      // Repeats are tolerated only when identical (RFC 9112 6.3); anything else is ambiguous.
      if (!isValidContentLength(value) || (session.contentLength !== undefined && session.contentLength !== value)) {
        session.framingError = true;
      } else if (session.contentLength === undefined) {
        session.contentLength = value;
        session.upstreamHeaders.push(name, value);
      }
      return;
    case RequestHeaderKind.TransferEncoding:
      // Only a single, plain "chunked" is unambiguous; uWS itself accepts "gzip, chunked" and repeats.
      if (session.transferEncoding !== undefined || value.toLowerCase() !== 'chunked') session.framingError = true;
      session.transferEncoding = value;
      return;
    case RequestHeaderKind.Connection:
      session.connectionHeader = session.connectionHeader === undefined ? value : `${session.connectionHeader},${value}`;
      return;
    case RequestHeaderKind.WebSocketHandshake:
      // Not an upgrade (those go to the WebSocket gateway): an ordinary header.
      session.upstreamHeaders.push(name, value);
      return;
    default:
      // Filed by collectRequestHeader, or hop-by-hop / Expect: dropped.
      return;
  }
}

// onData/onAborted targets cannot use the same trick (they fire later), so each
// session binds them once; see Session.

export interface ProxyOptions {
  readonly plan: RuntimePlan;
  readonly router: Router<ProxyRoute>;
  /** Which proxy thread this is (0: main), for the access log. */
  readonly thread?: number;
}

export class Proxy implements SessionOwner {
  readonly #plan: RuntimePlan;
  readonly #router: Router<ProxyRoute>;
  readonly #trusted: TrustedProxies;
  readonly #forwardHeaders: boolean;
  readonly #maxHeaderBytes: number;
  readonly #maxBodyBytes: number;
  readonly #adminToken: Buffer | undefined;
  readonly #logRequests: boolean;
  /** stdout, written from this thread: see log-sink.ts. */
  readonly #accessLog: LogSink | undefined;
  readonly #thread: number;
  /** Decided once: the peer address is read only if something uses it. */
  readonly #captureClientIp: boolean;
  #inFlight = 0;
  #draining = false;
  #drained: (() => void) | undefined;

  constructor(options: ProxyOptions) {
    this.#plan = options.plan;
    this.#router = options.router;
    const middleware = options.plan.middleware;
    this.#trusted = new TrustedProxies(middleware.trustedProxies);
    this.#forwardHeaders = middleware.forwardHeaders;
    this.#maxHeaderBytes = options.plan.server.maxHeaderBytes;
    this.#maxBodyBytes = options.plan.server.maxBodyBytes ?? Number.POSITIVE_INFINITY;
    this.#adminToken = middleware.adminToken === undefined ? undefined : Buffer.from(middleware.adminToken);
    this.#logRequests = middleware.logRequests;
    this.#thread = options.thread ?? 0;
    this.#accessLog = this.#logRequests
      ? new LogSink({ fd: 1, onDropped: (count) => log.warn(`${count} access-log lines dropped: stdout could not keep up`) })
      : undefined;
    const ipHash = [...options.plan.upstreams.values()].some((u) => u.strategy === 'ip_hash');
    this.#captureClientIp = this.#forwardHeaders || this.#logRequests || ipHash;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The uWS `any('/*')` handler. */
  handleRequest(res: HttpResponse, req: HttpRequest): void {
    const session = new Session(this, res);
    this.#inFlight++;
    res.onAborted(session.clientAborted.bind(session));

    // --- ingress: copy what we need while `req` is valid -----------------------
    const lowerMethod = req.getMethod();
    session.method = upperMethods.get(lowerMethod) ?? lowerMethod.toUpperCase();
    const rawPath = req.getUrl();
    session.query = req.getQuery() ?? '';
    collecting = session;
    req.forEach(collectHeader);
    if (this.#captureClientIp) {
      session.clientIp = formatRemoteAddress(res.getRemoteAddressAsText());
    }

    // --- validate: anything ambiguous is answered here and never forwarded -------
    if (session.headerBytes > this.#maxHeaderBytes) return session.reject(431);
    if (session.framingError || (session.contentLength !== undefined && session.transferEncoding !== undefined)) {
      return session.reject(400);
    }
    if (session.hostCount > 1) return session.reject(400);
    if (session.method === 'CONNECT' || session.method === 'TRACE') return session.reject(501);
    const host = session.rawHost === undefined || session.rawHost === '' ? '' : routingHost(session.rawHost);
    if (host === undefined) return session.reject(400);
    session.host = host;
    const path = normalizePath(rawPath);
    if (path === undefined) return session.reject(400);
    session.path = path;

    const contentLength = session.contentLength === undefined ? 0 : Number(session.contentLength);
    if (contentLength > this.#maxBodyBytes) return session.reject(413);
    if (contentLength > 0 || session.transferEncoding !== undefined) {
      const body = new RequestBodySource(res);
      session.body = body;
      res.onData(this.#maxBodyBytes === Number.POSITIVE_INFINITY ? body.push.bind(body) : this.#limitedBodyReader(session, body));
    }

    if (session.connectionHeader !== undefined) this.#dropConnectionListed(session, session.connectionHeader);

    // --- route -----------------------------------------------------------------
    const route = this.#router.match(session.method, host, path, session);
    if (route === undefined) return session.reject(404);
    session.route = route;

    // --- requestFilter: admin-token auth ------------------------------------------
    if (route.requireAuth && !this.#isAdmin(session.adminToken)) return session.reject(401);

    // --- upstreamRequestFilter: forwarded headers, route headers -------------------
    addForwardedHeaders(session.upstreamHeaders, session, this.#forwardHeaders, this.#trusted);
    if (route.replacedHeaderNames !== undefined) applyRouteHeaders(session.upstreamHeaders, route);

    // --- selectInstance + dispatch ------------------------------------------------
    session.balanceIp =
      route.upstream.spec.strategy === 'ip_hash' && session.xForwardedFor !== undefined ? this.#forwardedClient(session) : session.clientIp;
    const instance = route.upstream.select(session.balanceIp);
    if (instance !== undefined) return session.dispatchTo(instance);
    if (route.upstream.isStarting()) {
      void route.upstream.waitForInstance(session.balanceIp, STARTING_UPSTREAM_WAIT_MS).then((waited) => {
        if (session.aborted || session.finished) return;
        if (waited) session.dispatchTo(waited);
        else session.respondError(503);
      });
      return;
    }
    session.respondError(503);
  }

  sessionFinished(session: Session): void {
    this.#inFlight--;
    if (this.#logRequests) this.#logAccess(session);
    if (this.#draining && this.#inFlight === 0) this.#drained?.();
  }

  /** Resolves when every access-log line so far is written (at shutdown, before the process exits). */
  flushAccessLog(): Promise<void> {
    return this.#accessLog?.flush() ?? Promise.resolve();
  }

  /** Stops taking new work on existing connections gracefully and resolves when in-flight requests are done. */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

  #limitedBodyReader(session: Session, body: RequestBodySource): (chunk: ArrayBuffer, isLast: boolean) => void {
    const limit = this.#maxBodyBytes;
    return (chunk, isLast) => {
      if (session.finished) return;
      if (body.received + chunk.byteLength > limit) {
        if (!session.responseStarted) session.respondError(413);
        return;
      }
      body.push(chunk, isLast);
    };
  }

  /** Removes the headers a `Connection` header names (hop-by-hop by declaration). */
  #dropConnectionListed(session: Session, value: string): void {
    const tokens = connectionTokens(value);
    if (tokens.length === 0) return;
    const headers = session.upstreamHeaders;
    let write = 0;
    for (let read = 0; read < headers.length; read += 2) {
      if (tokens.includes(headers[read]!)) continue;
      headers[write++] = headers[read]!;
      headers[write++] = headers[read + 1]!;
    }
    headers.length = write;
  }

  /**
   * The client behind trusted proxies: walking X-Forwarded-For from the right, the
   * first address that is not itself a trusted proxy (nginx's realip with
   * `real_ip_recursive on`). From an untrusted peer the header proves nothing: the
   * peer itself is the client. Only asked for ip_hash upstreams.
   */
  #forwardedClient(session: Session): string {
    if (!this.#trusted.isTrusted(session.clientIp)) return session.clientIp;
    const hops = session.xForwardedFor!.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (hop !== '' && !this.#trusted.isTrusted(hop)) return hop;
    }
    return hops[0]!.trim() || session.clientIp;
  }

  #isAdmin(token: string | undefined): boolean {
    const expected = this.#adminToken;
    if (expected === undefined || token === undefined) return false;
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #logAccess(session: Session): void {
    const ms = (performance.now() - session.startedAt).toFixed(1);
    const route = session.route;
    const instance = session.lastInstance;
    this.#accessLog!.writeLine(
      `${session.clientIp || '-'} "${session.method} ${session.path}${session.query ? '?' + session.query : ''}" ` +
        `${session.aborted && session.status === 0 ? 499 : session.status} ${session.bytesSent} ${ms}ms ` +
        `upstream=${route?.spec.upstream ?? '-'} instance=${instance?.id ?? '-'} thread=${this.#thread}`,
    );
  }
}
