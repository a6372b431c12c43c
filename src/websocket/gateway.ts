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
import type { Pipeline, UpgradeHandler } from '../pipeline/pipeline.js';
import type { Instance } from '../upstream/instance.js';
import { Bridge, type BridgeLimits, type BridgeOwner } from './bridge.js';

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
  readonly #bridges = new Set<Bridge>();
  readonly #pending = new Set<PendingUpgrade>();
  #draining = false;
  #allClosed: (() => void) | undefined;

  /** Limits are the listener's: they do not change with a reload. */
  constructor(pipeline: Pipeline, server: ServerSpec) {
    this.#pipeline = pipeline;
    this.#maxMessageBytes = server.websocketMaxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#idleTimeoutSecs = server.websocketIdleTimeoutSecs ?? DEFAULT_IDLE_TIMEOUT_SECS;
    this.#limits = { highWater: HIGH_WATER, lowWater: LOW_WATER, upstreamLimit: HIGH_WATER + this.#maxMessageBytes };
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
      maxPayloadLength: this.#maxMessageBytes,
      idleTimeout: this.#idleTimeoutSecs,
      // uWS pings an idle client itself, so only a dead client reaches the idle timeout.
      sendPingsAutomatically: this.#idleTimeoutSecs > 0,
      // Above HIGH_WATER the upstream is paused; after that at most the message in progress and
      // one socket read (<= 64 KiB) can still arrive, so this limit is never reached and uWS never drops.
      maxBackpressure: HIGH_WATER + 2 * this.#maxMessageBytes + 1024 * 1024,
      closeOnBackpressureLimit: 0,
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
   * WebSocket with `code` (1001, going away) and resolves once all upstream
   * connections are closed, dropping those that do not answer within a second
   * (and all of them by `deadlineMs`).
   */
  closeAll(code = 1001, reason = 'server shutting down', deadlineMs = 5000): Promise<void> {
    this.#draining = true;
    for (const pending of this.#pending) {
      pending.upstream?.terminate();
      this.#refuse(pending, errors.shuttingDown);
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
    const flat = x.upstreamHeaders;
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
      const bridge = new Bridge(this, instance, upstream, this.#limits);
      this.#bridges.add(bridge);
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
