/**
 * WebSocket proxying: uWS terminates the client's WebSocket, warpdrive opens
 * one to the chosen upstream instance and bridges the two (see bridge.ts for
 * the relay).
 *
 * An upgrade runs the same request phases as any HTTP request (pipeline.ts):
 * capture, validate, route, request filters (auth), upstream request filters
 * (forwarded headers, add_headers), the route's path rewriting and ip_hash on
 * the client behind trusted proxies. Only then does the pipeline hand the
 * Exchange here (`connect`). The instance's in-flight count covers the whole
 * connection, so `least_conn` counts open WebSockets. The client's upgrade is
 * answered only once the upstream has accepted; an upstream refusal is relayed
 * with its status and body, a failed connection is retried on another instance
 * (like any request, `retries` times) and otherwise answered 502/504.
 *
 * Registered with `app.ws('/*')`: uWS then sends upgrade requests to the
 * pipeline's `handleUpgrade` and everything else to `handleRequest`.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { TemplatedApp, WebSocketBehavior } from 'uWebSockets.js';
import { WebSocket as UpstreamSocket, type ClientOptions } from 'ws';
import type { ServerSpec } from '../config/types.js';
import { createLogger } from '../log.js';
import { errors, fromUpstreamError, type ProxyError } from '../pipeline/errors.js';
import type { Exchange } from '../pipeline/exchange.js';
import { wireHeaders } from '../pipeline/headers.js';
import type { Pipeline, UpgradeHandler } from '../pipeline/pipeline.js';
import type { Instance } from '../upstream/instance.js';
import { Bridge, CONTROL_HEADROOM_BYTES, FRAGMENT_BYTES, type BridgeLimits, type BridgeOwner } from './bridge.js';

const log = createLogger('websocket');

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_IDLE_TIMEOUT_SECS = 120;
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
/** Pause the upstream when this much waits for the client; resume below LOW_WATER. */
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;
/** What uWS may hold for one client (maxBackpressure): relayed data, one fragment, and headroom for control frames. */
const CLIENT_BUFFER_LIMIT = HIGH_WATER + FRAGMENT_BYTES + CONTROL_HEADROOM_BYTES;
/**
 * uWS's own message limit is this much above websocket_max_message_bytes: a client
 * message up to it is read and answered with close 1009 (bridge.ts); past it uWS
 * drops the connection without a close frame (this build sends no 1009 itself).
 */
const OVERSIZE_MARGIN_BYTES = 1024 * 1024;
/**
 * How often the total held for slow clients is checked against
 * websocket_max_buffered_bytes; also right after any client falls behind.
 */
const BUFFERED_SWEEP_MS = 250;
/** How long a request waits for an upstream whose process is still starting (as for HTTP). */
const STARTING_UPSTREAM_WAIT_MS = 30_000;
/** Largest refusal body relayed to the client; the rest is dropped. */
const MAX_REFUSAL_BODY = 64 * 1024;
/** After a shutdown close, how long an upstream gets to answer before its connection is dropped. */
const SHUTDOWN_CLOSE_GRACE_MS = 1000;

/** uWS copies the own properties of the user data it is given into a fresh object, so the bridge travels as a property. */
interface ClientData {
  readonly bridge: Bridge;
}

/** An upgrade between the pipeline's hand-over and uWS's `open` (or its refusal). */
interface PendingUpgrade {
  readonly x: Exchange;
  readonly target: string;
  upstream: UpstreamSocket | undefined;
}

export class WebSocketGateway implements BridgeOwner, UpgradeHandler {
  readonly #pipeline: Pipeline;
  readonly #maxMessageBytes: number;
  readonly #idleTimeoutSecs: number;
  readonly #limits: BridgeLimits;
  /** This thread's share of server.websocket_max_buffered_bytes. */
  readonly #maxBufferedBytes: number;
  #sweep: NodeJS.Timeout | undefined;
  #sweepSoon = false;
  readonly #bridges = new Set<Bridge>();
  readonly #pending = new Set<PendingUpgrade>();
  #draining = false;
  #allClosed: (() => void) | undefined;

  /** Limits are the listener's: they do not change with a reload. */
  constructor(pipeline: Pipeline, server: ServerSpec) {
    this.#pipeline = pipeline;
    this.#maxMessageBytes = server.websocketMaxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#idleTimeoutSecs = server.websocketIdleTimeoutSecs ?? DEFAULT_IDLE_TIMEOUT_SECS;
    this.#limits = { highWater: HIGH_WATER, lowWater: LOW_WATER, upstreamLimit: HIGH_WATER + this.#maxMessageBytes, maxMessageBytes: this.#maxMessageBytes };
    this.#maxBufferedBytes = Math.floor((server.websocketMaxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES) / Math.max(1, server.workerThreads));
    pipeline.setUpgradeHandler(this);
  }

  /** Open bridged connections (for logs and tests). */
  get openCount(): number {
    return this.#bridges.size;
  }

  /** Registers the `app.ws('/*')` behaviour on the listener (on the HTTPS listener: under the name selected with `domain()`). */
  register(app: TemplatedApp, scheme: 'http' | 'https' = 'http'): void {
    const pipeline = this.#pipeline;
    const behavior: WebSocketBehavior<ClientData> = {
      maxPayloadLength: this.#maxMessageBytes + OVERSIZE_MARGIN_BYTES,
      idleTimeout: this.#idleTimeoutSecs,
      // uWS pings an idle client itself, so only a dead client reaches the idle timeout.
      sendPingsAutomatically: this.#idleTimeoutSecs > 0,
      // The bridge hands uWS relayed data only while uWS holds at most HIGH_WATER, a fragment at a
      // time, so relayed data never reaches this limit; what uWS adds by itself (pongs to a client
      // that pings but never reads) can: uWS then drops what it would send and stops reading the
      // client (closeOnBackpressureLimit shuts reading down; it does not close), and the next sweep
      // (#sweepBuffered) closes it. No `ping` handler: uWS would call into JavaScript, with a fresh
      // ArrayBuffer, for every ping a flooding client sends.
      maxBackpressure: CLIENT_BUFFER_LIMIT,
      closeOnBackpressureLimit: 1,
      // While shutting down, the pipeline answers new upgrades 503 itself.
      upgrade: (res, req, context) => pipeline.handleUpgrade(res, req, context, scheme),
      open: (ws) => ws.getUserData().bridge.clientOpened(ws),
      message: (ws, message, isBinary) => ws.getUserData().bridge.clientMessage(message, isBinary),
      drain: (ws) => ws.getUserData().bridge.clientDrained(ws),
      close: (ws, code, message) => ws.getUserData().bridge.clientClosed(code, message),
    };
    app.ws<ClientData>('/*', behavior);
  }

  /**
   * Graceful shutdown, after HTTP has drained: refuses new upgrades, closes every
   * WebSocket with `code` (1001, going away) on both sides, and resolves once all
   * upstream connections are closed. Upstreams that do not answer the close within
   * a second, or by `deadlineMs` if that comes first (0: at once), are dropped;
   * resolves with those (path and instance), for the log.
   */
  closeAll(code = 1001, reason = 'server shutting down', deadlineMs = 5000): Promise<string[]> {
    this.#draining = true;
    for (const pending of this.#pending) {
      pending.upstream?.terminate();
      this.#refuse(pending, errors.shuttingDown);
    }
    if (this.#bridges.size === 0) return Promise.resolve([]);
    log.info(`closing ${this.#bridges.size} WebSocket connection(s) with ${code}`);
    for (const bridge of this.#bridges) bridge.shutdown(code, reason);
    const unanswered: string[] = [];
    return new Promise<string[]>((resolve) => {
      const grace = setTimeout(() => {
        for (const bridge of this.#bridges) {
          unanswered.push(bridge.label);
          bridge.terminate();
        }
      }, Math.min(SHUTDOWN_CLOSE_GRACE_MS, deadlineMs));
      const deadline = setTimeout(done, Math.max(deadlineMs, 0));
      function done(): void {
        clearTimeout(grace);
        clearTimeout(deadline);
        resolve(unanswered);
      }
      this.#allClosed = done;
    });
  }

  bridgeClosed(bridge: Bridge): void {
    this.#bridges.delete(bridge);
    if (this.#bridges.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
      this.#allClosed?.();
    }
  }

  clientFellBehind(): void {
    if (this.#sweepSoon) return;
    this.#sweepSoon = true;
    setImmediate(() => {
      this.#sweepSoon = false;
      this.#sweepBuffered();
    });
  }

  /**
   * The bounds on what slow clients hold, right after a client falls behind and
   * every BUFFERED_SWEEP_MS while bridges are open. Per connection: a client for
   * which uWS holds more than relayed data can explain (pongs it does not read) is
   * closed. Globally (server.websocket_max_buffered_bytes, split over the proxy
   * threads): what is held for clients (in uWS and in the bridges' outboxes) is
   * added up; over the bound, the clients holding the most are dropped (no close
   * frame: they are not reading it) until the total is back under three quarters of
   * it. Relayed data is checked the moment it piles up; what uWS writes by itself
   * (pongs) by the timer, and each connection's share of that is capped by uWS's
   * maxBackpressure in the meantime.
   */
  #sweepBuffered(): void {
    let total = 0;
    let stuck = 0;
    for (const bridge of this.#bridges) {
      // Relayed data alone never takes uWS past HIGH_WATER + FRAGMENT_BYTES: more is control frames
      // (pongs) piling up for a client that does not read; uWS has stopped reading it. Close it.
      if (bridge.bufferedInUws > CLIENT_BUFFER_LIMIT - CONTROL_HEADROOM_BYTES / 2) {
        bridge.dropClient();
        stuck++;
        continue;
      }
      total += bridge.bufferedForClient;
    }
    if (stuck > 0) log.warn(`closed ${stuck} WebSocket client(s) that did not read the pongs to their pings (${(CLIENT_BUFFER_LIMIT / 1024).toFixed(0)} KiB held each)`);
    if (total <= this.#maxBufferedBytes) return;
    const held = [...this.#bridges].map((bridge) => [bridge.bufferedForClient, bridge] as const).sort((a, b) => b[0] - a[0]);
    const target = this.#maxBufferedBytes * 0.75;
    let dropped = 0;
    let freed = 0;
    for (const [bytes, bridge] of held) {
      if (total - freed <= target || bytes === 0) break;
      bridge.dropClient();
      freed += bytes;
      dropped++;
    }
    log.warn(
      `${(total / 1048576).toFixed(1)} MiB held for WebSocket clients that do not read, over the bound of ${(this.#maxBufferedBytes / 1048576).toFixed(1)} MiB ` +
        `(this thread's share of server.websocket_max_buffered_bytes): dropped the ${dropped} holding the most (${(freed / 1048576).toFixed(1)} MiB)`,
    );
  }

  // ---------------------------------------------------------------- upgrade

  /** From the pipeline: route, filters and headers are done; select an instance and connect. */
  connect(x: Exchange): void {
    const route = x.route!;
    const upstreamPath = route.upstreamPath(x.path);
    const pending: PendingUpgrade = { x, target: x.query === '' ? upstreamPath : `${upstreamPath}?${x.query}`, upstream: undefined };
    this.#pending.add(pending);
    // proceed() answers a files-only route (no upstream) before handing an upgrade over.
    const upstream = route.upstream!;
    const instance = upstream.select(x.balanceIp);
    if (instance !== undefined) return this.#connect(pending, instance);
    if (upstream.isStarting()) {
      void upstream.waitForInstance(x.balanceIp, STARTING_UPSTREAM_WAIT_MS).then((waited) => {
        if (x.finished) return;
        if (waited) this.#connect(pending, waited);
        else this.#refuse(pending, errors.noInstance);
      });
      return;
    }
    this.#refuse(pending, errors.noInstance);
  }

  #connect(pending: PendingUpgrade, instance: Instance): void {
    const { x } = pending;
    const route = x.route!;
    x.triedInstances |= instance.bit;
    x.attempts++;
    x.lastInstance = instance;
    instance.requestStarted();

    const address = instance.spec.address;
    // ws's URL parsing splits `ws+unix:SOCKET:PATH` at the first colon after the socket path.
    const url =
      address.kind === 'tcp'
        ? `ws://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}${pending.target}`
        : `ws+unix:${address.socketPath}:${pending.target}`;
    const headers: Record<string, string | string[]> = {};
    // node:http, under ws, writes header strings as Latin-1 as undici does (headers.ts).
    const flat = x.nonAsciiHeaders ? wireHeaders(x.upstreamHeaders) : x.upstreamHeaders;
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!;
      const existing = headers[name];
      headers[name] = existing === undefined ? flat[i + 1]! : Array.isArray(existing) ? [...existing, flat[i + 1]!] : [existing, flat[i + 1]!];
    }
    // The client's offer goes as a plain header rather than ws's `protocols`: ws would itself fail a
    // server that picks none, a verdict that belongs to the end client. The upstream's choice is
    // checked below instead (it must be one the client offered).
    if (x.secWebSocketProtocol !== '') headers['sec-websocket-protocol'] = x.secWebSocketProtocol;
    const connectTimeoutMs = route.spec.connectTimeoutMs ?? route.upstream!.spec.connectTimeoutMs;
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
      return this.#refuse(pending, errors.unsendable, error);
    }
    pending.upstream = upstream;
    let selectedProtocol = '';
    let settled = false;

    upstream.on('upgrade', (response: IncomingMessage) => {
      const chosen = response.headers['sec-websocket-protocol'];
      if (chosen !== undefined) {
        // Hidden from ws's own check (see above); a browser's rule applied instead: the choice must be on offer.
        delete response.headers['sec-websocket-protocol'];
        if (!offeredProtocols(x.secWebSocketProtocol).includes(chosen)) {
          settled = true;
          upstream.terminate();
          instance.requestFinished('success');
          log.warn(`${instance.id} chose subprotocol "${chosen}", which the client did not offer`);
          this.#refuse(pending, errors.badResponse);
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
      if (x.finished) {
        // We dropped the handshake ourselves (client gone, shutdown): says nothing about the instance.
        instance.requestFinished('cancelled');
        return;
      }
      const kind = error.message.includes('handshake has timed out') ? errors.readTimeout : fromUpstreamError(error);
      instance.requestFinished(kind.outcome);
      log.warn(`WebSocket upgrade to ${instance.id} (${instance.address}) failed: ${error.message}`);
      if (kind.retry === 'always' && x.attempts <= route.upstream!.spec.retries) {
        const next = route.upstream!.select(x.balanceIp, instance, x.triedInstances);
        if (next !== undefined) return this.#connect(pending, next);
      }
      this.#refuse(pending, kind, error);
    });

    upstream.on('open', () => {
      settled = true;
      this.#pending.delete(pending);
      if (x.finished) {
        upstream.close(1001, 'client went away');
        upstream.once('close', () => instance.requestFinished('cancelled'));
        return;
      }
      const bridge = new Bridge(this, instance, upstream, this.#limits, `${x.path} (${instance.id})`);
      this.#bridges.add(bridge);
      this.#sweep ??= setInterval(() => this.#sweepBuffered(), BUFFERED_SWEEP_MS).unref();
      x.sink.upgrade<ClientData>({ bridge }, x.secWebSocketKey, selectedProtocol, x.secWebSocketExtensions, x.upgradeContext!);
      x.finish();
    });
  }

  /** Answers the client's upgrade with warpdrive's error for `error` (once; never after it went away). */
  #refuse(pending: PendingUpgrade, error: ProxyError, cause?: unknown): void {
    this.#pending.delete(pending);
    pending.x.fail(error, cause);
  }

  /** Relays an upstream's non-101 answer (status, headers, up to MAX_REFUSAL_BODY of body) to the client. */
  #relayRefusal(pending: PendingUpgrade, response: IncomingMessage, release: () => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let relayed = false;
    const finish = (): void => {
      if (relayed) return;
      relayed = true;
      release();
      this.#pending.delete(pending);
      const status = response.statusCode ?? 502;
      // The upstream's own headers, as sent (the sink drops hop-by-hop and framing ones).
      pending.x.respond(status, response.rawHeaders, Buffer.concat(chunks, size), response.statusMessage);
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

/** The offered subprotocols as a list (`"a, b"` -> ["a", "b"]). */
export function offeredProtocols(header: string): string[] {
  const list: string[] = [];
  for (const raw of header.split(',')) {
    const token = raw.trim();
    if (token !== '') list.push(token);
  }
  return list;
}
