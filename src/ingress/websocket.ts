/**
 * WebSocket proxying: uWS terminates the client's WebSocket, warpdrive opens
 * one to the chosen upstream instance and bridges the two (see
 * websocket/bridge.ts for the relay).
 *
 * An upgrade goes through the same phases as an HTTP request: capture (while
 * uWS's `req` is valid), validate, route (same router, method GET), admin-token
 * auth, forwarded and `add_headers` headers, instance selection (the instance's
 * in-flight count covers the whole connection, so `least_conn` counts open
 * WebSockets). The client's upgrade is answered only once the upstream has
 * accepted; an upstream refusal is relayed with its status and body, a failed
 * connection is retried on another instance (like any request, `retries`
 * times) and otherwise answered 502/504.
 *
 * Registered with `app.ws('/*')` from startIngress's `configure` hook: uWS then
 * sends upgrade requests here and everything else to the HTTP proxy.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { HttpResponse, TemplatedApp, us_socket_context_t, WebSocketBehavior } from 'uWebSockets.js';
import { WebSocket as UpstreamSocket, type ClientOptions } from 'ws';
import type { RuntimePlan } from '../config/types.js';
import { createLogger } from '../log.js';
import { formatRemoteAddress } from '../proxy/client-address.js';
import { addForwardedHeaders, applyRouteHeaders } from '../proxy/forwarded.js';
import { droppedResponseHeaders, routingHost } from '../proxy/headers.js';
import type { ProxyRoute } from '../proxy/route.js';
import { TrustedProxies } from '../proxy/trusted-proxies.js';
import { normalizePath } from '../router/normalize-path.js';
import type { Router } from '../router/types.js';
import type { Instance } from '../upstream/instance.js';
import { classifyUpstreamError } from '../upstream/outcome.js';
import { Bridge, type BridgeLimits, type BridgeOwner } from '../websocket/bridge.js';
import { offeredProtocols, UpgradeRequest } from '../websocket/upgrade-request.js';

const log = createLogger('websocket');

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_IDLE_TIMEOUT_SECS = 120;
/** Pause the upstream when this much waits for the client; resume below LOW_WATER. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** How long a request waits for an upstream whose process is still starting (as for HTTP). */
const STARTING_UPSTREAM_WAIT_MS = 30_000;
/** Largest refusal body relayed to the client; the rest is dropped. */
const MAX_REFUSAL_BODY = 64 * 1024;
/** After a shutdown close, how long an upstream gets to answer before its connection is dropped. */
const SHUTDOWN_CLOSE_GRACE_MS = 1000;

export interface WebSocketGatewayOptions {
  readonly plan: RuntimePlan;
  readonly router: Router<ProxyRoute>;
}

/** uWS copies the own properties of the user data it is given into a fresh object, so the bridge travels as a property. */
interface ClientData {
  readonly bridge: Bridge;
}

/** One upgrade between the client's request and uWS's `open` (or its refusal). */
class PendingUpgrade {
  aborted = false;
  answered = false;
  upstream: UpstreamSocket | undefined = undefined;
  triedInstances = 0;
  attempts = 0;
  constructor(
    readonly res: HttpResponse,
    readonly context: us_socket_context_t,
    readonly request: UpgradeRequest,
    readonly route: ProxyRoute,
    readonly target: string,
  ) {}
}

export class WebSocketGateway implements BridgeOwner {
  readonly #router: Router<ProxyRoute>;
  readonly #trusted: TrustedProxies;
  readonly #forwardHeaders: boolean;
  readonly #maxHeaderBytes: number;
  readonly #adminToken: Buffer | undefined;
  readonly #maxMessageBytes: number;
  readonly #idleTimeoutSecs: number;
  readonly #limits: BridgeLimits;
  readonly #bridges = new Set<Bridge>();
  readonly #pending = new Set<PendingUpgrade>();
  #draining = false;
  #allClosed: (() => void) | undefined;

  constructor(options: WebSocketGatewayOptions) {
    const { plan } = options;
    this.#router = options.router;
    this.#trusted = new TrustedProxies(plan.middleware.trustedProxies);
    this.#forwardHeaders = plan.middleware.forwardHeaders;
    this.#maxHeaderBytes = plan.server.maxHeaderBytes;
    this.#adminToken = plan.middleware.adminToken === undefined ? undefined : Buffer.from(plan.middleware.adminToken);
    this.#maxMessageBytes = plan.server.websocketMaxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#idleTimeoutSecs = plan.server.websocketIdleTimeoutSecs ?? DEFAULT_IDLE_TIMEOUT_SECS;
    this.#limits = { highWater: HIGH_WATER, lowWater: LOW_WATER, upstreamLimit: HIGH_WATER + this.#maxMessageBytes };
  }

  /** Open bridged connections (for logs and tests). */
  get openCount(): number {
    return this.#bridges.size;
  }

  /** Registers the `app.ws('/*')` behaviour; pass as (part of) startIngress's `configure`. */
  register(app: TemplatedApp): void {
    const behavior: WebSocketBehavior<ClientData> = {
      maxPayloadLength: this.#maxMessageBytes,
      idleTimeout: this.#idleTimeoutSecs,
      // uWS pings an idle client itself, so only a dead client reaches the idle timeout.
      sendPingsAutomatically: this.#idleTimeoutSecs > 0,
      // Above HIGH_WATER the upstream is paused; after that at most the message in progress and
      // one socket read (<= 64 KiB) can still arrive, so this limit is never reached and uWS never drops.
      maxBackpressure: HIGH_WATER + 2 * this.#maxMessageBytes + 1024 * 1024,
      closeOnBackpressureLimit: 0,
      upgrade: (res, req, context) => this.#upgrade(res, req, context),
      open: (ws) => ws.getUserData().bridge.clientOpened(ws),
      message: (ws, message, isBinary) => ws.getUserData().bridge.clientMessage(message, isBinary),
      drain: (ws) => ws.getUserData().bridge.clientDrained(ws),
      close: (ws, code, message) => ws.getUserData().bridge.clientClosed(code, message),
    };
    app.ws<ClientData>('/*', behavior);
  }

  /**
   * Graceful shutdown, after HTTP has drained: refuses new upgrades, closes every
   * WebSocket with `code` (1001, going away) and resolves once all upstream
   * connections are closed, dropping those that do not answer within a second
   * (and all of them by `deadlineMs`).
   */
  closeAll(code = 1001, reason = 'server shutting down', deadlineMs = 5000): Promise<void> {
    this.#draining = true;
    for (const pending of this.#pending) {
      pending.upstream?.terminate();
      this.#respond(pending, 503, 'server shutting down\n');
    }
    if (this.#bridges.size === 0) return Promise.resolve();
    log.info(`closing ${this.#bridges.size} WebSocket connection(s) with ${code}`);
    for (const bridge of this.#bridges) bridge.shutdown(code, reason);
    return new Promise<void>((resolve) => {
      const grace = setTimeout(() => {
        for (const bridge of this.#bridges) bridge.terminate();
      }, Math.min(SHUTDOWN_CLOSE_GRACE_MS, deadlineMs));
      const deadline = setTimeout(done, deadlineMs);
      function done(): void {
        clearTimeout(grace);
        clearTimeout(deadline);
        resolve();
      }
      this.#allClosed = done;
    });
  }

  bridgeClosed(bridge: Bridge): void {
    this.#bridges.delete(bridge);
    if (this.#bridges.size === 0) this.#allClosed?.();
  }

  // ---------------------------------------------------------------- upgrade

  #upgrade(res: HttpResponse, req: import('uWebSockets.js').HttpRequest, context: us_socket_context_t): void {
    // --- capture while `req` is valid -------------------------------------------
    const request = UpgradeRequest.capture(req);
    request.clientIp = formatRemoteAddress(res.getRemoteAddressAsText());
    let aborted = false;
    let pending: PendingUpgrade | undefined;
    res.onAborted(() => {
      aborted = true;
      if (pending !== undefined) {
        pending.aborted = true;
        this.#pending.delete(pending);
        pending.upstream?.terminate();
      }
    });
    const refuse = (status: number, body: string): void => {
      res.cork(() => res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`).writeHeader('content-type', 'text/plain').end(body));
    };

    // --- validate and route -------------------------------------------------------
    if (this.#draining) return refuse(503, 'server shutting down\n');
    if (request.headerBytes > this.#maxHeaderBytes) return refuse(431, 'request headers too large\n');
    if (request.secWebSocketKey === '') return refuse(400, 'missing Sec-WebSocket-Key\n');
    if (request.hostCount > 1) return refuse(400, 'more than one Host header\n');
    const host = request.rawHost === undefined || request.rawHost === '' ? '' : routingHost(request.rawHost);
    if (host === undefined) return refuse(400, 'invalid Host header\n');
    const path = normalizePath(request.rawPath);
    if (path === undefined) return refuse(400, 'invalid request path\n');
    const route = this.#router.match('GET', host, path, request);
    if (route === undefined) return refuse(404, 'no route matches this request\n');
    if (route.requireAuth && !this.#isAdmin(request.adminToken)) {
      return refuse(401, 'this route requires X-Admin-Token\n');
    }
    addForwardedHeaders(request.upstreamHeaders, request, this.#forwardHeaders, this.#trusted);
    if (route.replacedHeaderNames !== undefined) applyRouteHeaders(request.upstreamHeaders, route);

    const upstreamPath = route.upstreamPath(path);
    pending = new PendingUpgrade(res, context, request, route, request.query === '' ? upstreamPath : `${upstreamPath}?${request.query}`);
    this.#pending.add(pending);

    // --- select an instance and connect ------------------------------------------
    const instance = route.upstream.select(request.clientIp);
    if (instance !== undefined) return this.#connect(pending, instance);
    if (route.upstream.isStarting()) {
      const waiting = pending;
      void route.upstream.waitForInstance(request.clientIp, STARTING_UPSTREAM_WAIT_MS).then((waited) => {
        if (aborted || waiting.answered) return;
        if (waited) this.#connect(waiting, waited);
        else this.#respond(waiting, 503, 'no upstream instance is available\n');
      });
      return;
    }
    this.#respond(pending, 503, 'no upstream instance is available\n');
  }

  #connect(pending: PendingUpgrade, instance: Instance): void {
    const { request, route } = pending;
    pending.triedInstances |= instance.bit;
    pending.attempts++;
    instance.requestStarted();

    const address = instance.spec.address;
    // ws's URL parsing splits `ws+unix:SOCKET:PATH` at the first colon after the socket path.
    const url =
      address.kind === 'tcp'
        ? `ws://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}${pending.target}`
        : `ws+unix:${address.socketPath}:${pending.target}`;
    const headers: Record<string, string | string[]> = {};
    const flat = request.upstreamHeaders;
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!;
      const existing = headers[name];
      headers[name] = existing === undefined ? flat[i + 1]! : Array.isArray(existing) ? [...existing, flat[i + 1]!] : [existing, flat[i + 1]!];
    }
    // The client's offer goes as a plain header rather than ws's `protocols`: ws would itself fail a
    // server that picks none, a verdict that belongs to the end client. The upstream's choice is
    // checked below instead (it must be one the client offered).
    if (request.secWebSocketProtocol !== '') headers['sec-websocket-protocol'] = request.secWebSocketProtocol;
    const connectTimeoutMs = route.spec.connectTimeoutMs ?? route.upstream.spec.connectTimeoutMs;
    const options: ClientOptions = {
      // ws types values as strings; Node's http (which ws hands them to) also takes arrays, for repeats.
      headers: headers as Record<string, string>,
      perMessageDeflate: false, // compression is off on both sides: frames are relayed as they are
      maxPayload: this.#maxMessageBytes,
      handshakeTimeout: connectTimeoutMs + route.readTimeoutMs,
      followRedirects: false,
      // The end client validates UTF-8 itself; relaying text bytes unchecked saves a pass over each message.
      skipUTF8Validation: true,
    };

    let upstream: UpstreamSocket;
    try {
      upstream = new UpstreamSocket(url, options);
    } catch (error) {
      instance.requestFinished('cancelled');
      log.warn(`upgrade to ${instance.id} could not start: ${(error as Error).message}`);
      return this.#respond(pending, 400, 'the upgrade request cannot be forwarded\n');
    }
    pending.upstream = upstream;
    let selectedProtocol = '';
    let settled = false;

    upstream.on('upgrade', (response: IncomingMessage) => {
      const chosen = response.headers['sec-websocket-protocol'];
      if (chosen !== undefined) {
        // Hidden from ws's own check (see above); a browser's rule applied instead: the choice must be on offer.
        delete response.headers['sec-websocket-protocol'];
        if (!offeredProtocols(request.secWebSocketProtocol).includes(chosen)) {
          settled = true;
          upstream.terminate();
          instance.requestFinished('success');
          log.warn(`${instance.id} chose subprotocol "${chosen}", which the client did not offer`);
          this.#respond(pending, 502, 'the upstream chose a subprotocol the client did not offer\n');
          return;
        }
        selectedProtocol = chosen;
      }
    });

    upstream.on('unexpected-response', (clientRequest, response: IncomingMessage) => {
      settled = true;
      const status = response.statusCode ?? 502;
      instance.requestFinished(status >= 500 ? 'status_5xx' : 'success');
      this.#relayRefusal(pending, response, () => clientRequest.destroy());
    });

    upstream.on('error', (error: Error & { code?: string }) => {
      if (settled) return; // after open, errors are followed by 'close', which the bridge handles
      settled = true;
      if (pending.aborted || pending.answered) {
        // We dropped the handshake ourselves (client gone, shutdown): says nothing about the instance.
        instance.requestFinished('cancelled');
        return;
      }
      const outcome = error.message.includes('handshake has timed out') ? 'timeout' : classifyUpstreamError(error);
      instance.requestFinished(outcome);
      log.warn(`WebSocket upgrade to ${instance.id} (${instance.address}) failed: ${error.message}`);
      if (outcome === 'connect_failure' && pending.attempts <= route.upstream.spec.retries) {
        const next = route.upstream.select(request.clientIp, instance, pending.triedInstances);
        if (next !== undefined) return this.#connect(pending, next);
      }
      this.#respond(pending, outcome === 'timeout' ? 504 : 502, 'the upstream did not accept the WebSocket\n');
    });

    upstream.on('open', () => {
      settled = true;
      this.#pending.delete(pending);
      if (pending.aborted || pending.answered) {
        upstream.close(1001, 'client went away');
        upstream.once('close', () => instance.requestFinished('cancelled'));
        return;
      }
      pending.answered = true;
      const bridge = new Bridge(this, instance, upstream, this.#limits);
      this.#bridges.add(bridge);
      const { res, context } = pending;
      res.cork(() => res.upgrade<ClientData>({ bridge }, request.secWebSocketKey, selectedProtocol, request.secWebSocketExtensions, context));
    });
  }

  #isAdmin(token: string | undefined): boolean {
    const expected = this.#adminToken;
    if (expected === undefined || token === undefined) return false;
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** Answers the client's upgrade with an error status (once; never after it went away). */
  #respond(pending: PendingUpgrade, status: number, body: string): void {
    this.#pending.delete(pending);
    if (pending.aborted || pending.answered) return;
    pending.answered = true;
    const res = pending.res;
    res.cork(() => res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`).writeHeader('content-type', 'text/plain').end(body));
  }

  /** Relays an upstream's non-101 answer (status, headers, up to MAX_REFUSAL_BODY of body) to the client. */
  #relayRefusal(pending: PendingUpgrade, response: IncomingMessage, release: () => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (): void => {
      release();
      this.#pending.delete(pending);
      if (pending.aborted || pending.answered) return;
      pending.answered = true;
      const res = pending.res;
      const status = response.statusCode ?? 502;
      res.cork(() => {
        res.writeStatus(`${status} ${response.statusMessage || STATUS_CODES[status] || ''}`);
        const raw = response.rawHeaders;
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!.toLowerCase();
          if (!droppedResponseHeaders.has(name)) res.writeHeader(name, raw[i + 1]!);
        }
        res.end(Buffer.concat(chunks, size));
      });
    };
    response.on('data', (chunk: Buffer) => {
      if (size >= MAX_REFUSAL_BODY) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_REFUSAL_BODY) finish();
    });
    response.once('end', finish);
    response.once('error', finish);
    response.once('close', finish);
  }
}
