/**
 * One bridged WebSocket: the client side terminated by uWS, the upstream side a
 * `ws` client connection to the chosen instance. Relays messages unchanged both
 * ways, carries close codes across, and applies backpressure.
 *
 * Upstream -> client: a message goes to uWS at once only while uWS holds at most
 * `highWater` bytes for the client; otherwise it waits in the bridge's outbox and
 * the upstream socket is paused (TCP then pushes back on the upstream), to be
 * resumed from uWS's `drain` once the outbox is empty and uWS holds less than
 * `lowWater`. A message larger than FRAGMENT_BYTES is handed to uWS in fragments
 * of that size, each only while uWS holds at most `highWater` (RFC 6455 5.4 lets
 * an intermediary refragment a message that uses no extension; none is
 * negotiated here). So uWS never holds more than `highWater + FRAGMENT_BYTES` of
 * relayed data for one client, however large the messages, and the gateway can
 * set uWS's per-connection limit (`maxBackpressure`, with
 * `closeOnBackpressureLimit`) just above that: what uWS writes by itself, the
 * pongs owed to a client that pings but never reads, can then only pile up to
 * CONTROL_HEADROOM_BYTES more before uWS closes the connection. The small-message
 * path costs what it did before: one `send` and one `getBufferedAmount`.
 *
 * Client -> upstream: uWS.js offers no way to stop reading a WebSocket, so the
 * bound is enforced by closing: if the upstream socket's unsent bytes pass
 * `upstreamLimit`, the client is closed with 1013 (try again later) rather than
 * buffering without end. A client message over `maxMessageBytes` closes the client
 * with 1009 (uWS itself accepts up to OVERSIZE_MARGIN_BYTES more, see gateway.ts).
 *
 * @module
 */
import type { WebSocket as ClientSocket } from 'uWebSockets.js';
import type { WebSocket as UpstreamSocket } from 'ws';
import type { Instance, RequestOutcome } from '../upstream/instance.js';

/** uWS `send` result meaning the message was dropped (backpressure over maxBackpressure). */
const SEND_DROPPED = 2;

/** Preallocated `ws.send` options: one of two constant objects per message instead of a literal. */
const BINARY = { binary: true } as const;
const TEXT = { binary: false } as const;

/** Upstream messages larger than this reach uWS in fragments of this size. */
export const FRAGMENT_BYTES = 64 * 1024;
/** What uWS may hold for a client beyond relayed data (pongs, a close frame) before it closes the connection. */
export const CONTROL_HEADROOM_BYTES = 64 * 1024;

export interface BridgeLimits {
  readonly highWater: number;
  readonly lowWater: number;
  readonly upstreamLimit: number;
  /** websocket_max_message_bytes: a larger client message closes the client with 1009. */
  readonly maxMessageBytes: number;
}

/** An upstream message waiting for the client to drain; `sent` bytes of it are with uWS already. */
interface OutboxEntry {
  readonly data: Buffer;
  readonly isBinary: boolean;
  sent: number;
}

export interface BridgeOwner {
  /** The bridge is completely closed: the gateway can forget it. */
  bridgeClosed(bridge: Bridge): void;
  /** The client fell behind (the upstream was paused for it): time to check the global bound. */
  clientFellBehind(): void;
}

/** Close codes that may be sent in a close frame (RFC 6455 7.4; 1005/1006/1015 are report-only). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

export class Bridge {
  readonly owner: BridgeOwner;
  readonly instance: Instance;
  readonly upstream: UpstreamSocket;
  /** `/cable (cable#0)`: the client's path and the instance, for logs. */
  readonly label: string;
  readonly #limits: BridgeLimits;
  /** Set by uWS's `open`; undefined before that and after the client side closed. */
  #client: ClientSocket<{ readonly bridge: Bridge }> | undefined = undefined;
  /** Messages the upstream sent before uWS opened the client side (e.g. a welcome message). */
  #early: Array<[Buffer, boolean]> | undefined = undefined;
  #clientOpened = false;
  /** The upstream's close, kept when it came before uWS opened the client side. */
  #upstreamClose: [number, Buffer] | undefined = undefined;
  #upstreamPaused = false;
  /** Upstream messages the client is not ready for (see the module comment); undefined when empty. */
  #outbox: OutboxEntry[] | undefined = undefined;
  /** Bytes in the outbox not yet handed to uWS. */
  #outboxBytes = 0;
  #finished = false;
  /** Set when `ws` gave up on an upstream message past the size cap: the client then hears 1009, not 1011. */
  #upstreamTooBig = false;

  constructor(owner: BridgeOwner, instance: Instance, upstream: UpstreamSocket, limits: BridgeLimits, label: string) {
    this.owner = owner;
    this.label = label;
    this.instance = instance;
    this.upstream = upstream;
    this.#limits = limits;
    // Bound once per connection, not per message.
    upstream.on('message', this.#onUpstreamMessage.bind(this));
    upstream.on('close', this.#onUpstreamClose.bind(this));
    upstream.on('error', this.#onUpstreamError.bind(this));
  }

  get clientOpen(): boolean {
    return this.#client !== undefined;
  }

  /** Bytes uWS holds for the client (0 once it is gone). */
  get bufferedInUws(): number {
    return this.#client?.getBufferedAmount() ?? 0;
  }

  /** Bytes held for the client: in uWS and in the outbox (the gateway's global bound). */
  get bufferedForClient(): number {
    return this.#client === undefined ? 0 : this.bufferedInUws + this.#outboxBytes;
  }

  /** Drops the client at once, no close frame (it is not reading): frees what is held for it. */
  dropClient(): void {
    this.#client?.close();
  }

  // ---------------------------------------------------------------- client side (uWS callbacks)

  clientOpened(client: ClientSocket<{ readonly bridge: Bridge }>): void {
    this.#client = client;
    this.#clientOpened = true;
    const early = this.#early;
    this.#early = undefined;
    if (early !== undefined) for (const [data, isBinary] of early) this.#sendToClient(client, data, isBinary);
    // The upstream may already have closed while uWS was opening the client side.
    const closed = this.#upstreamClose;
    if (closed !== undefined) this.#closeClientLike(closed[0], closed[1]);
  }

  /** A client message: handed to `ws` as the ArrayBuffer itself. */
  clientMessage(message: ArrayBuffer, isBinary: boolean): void {
    if (message.byteLength > this.#limits.maxMessageBytes) {
      this.#client?.end(1009, 'message too big');
      return;
    }
    const upstream = this.upstream;
    if (upstream.readyState !== 1 /* OPEN */) return;
    // No copy: for an ArrayBuffer `ws` treats the data as read-only and masks it into a
    // fresh frame buffer synchronously (its send queue is only used for compression and
    // Blobs, both off here), so nothing refers to uWS's memory after this call returns.
    upstream.send(message, isBinary ? BINARY : TEXT);
    if (upstream.bufferedAmount > this.#limits.upstreamLimit) {
      this.#client?.end(1013, 'upstream is not reading fast enough');
    }
  }

  /** uWS `drain`: the client took some of its buffer; send what waits, then resume the upstream once below the low-water mark. */
  clientDrained(client: ClientSocket<{ readonly bridge: Bridge }>): void {
    if (this.#outbox !== undefined) this.#flushOutbox(client);
    if (this.#upstreamPaused && this.#outbox === undefined && client.getBufferedAmount() < this.#limits.lowWater) {
      this.#upstreamPaused = false;
      this.upstream.resume();
    }
  }

  /** uWS `close`: the client side is gone (any reason); carry it to the upstream. */
  clientClosed(code: number, message: ArrayBuffer): void {
    this.#client = undefined;
    this.#outbox = undefined;
    this.#outboxBytes = 0;
    const upstream = this.upstream;
    if (this.#upstreamPaused) {
      this.#upstreamPaused = false;
      upstream.resume(); // so the upstream's close frame can be read
    }
    if (upstream.readyState !== 1 /* OPEN */) return;
    if (code === 1005) upstream.close();
    else if (isSendableCloseCode(code)) upstream.close(code, Buffer.from(new Uint8Array(message))); // copy: uWS neuters `message` on return
    else upstream.close(1001, 'client went away'); // 1006: the client vanished without a close frame
  }

  /** Graceful shutdown: close the client side (uWS then calls clientClosed, which closes the upstream). */
  shutdown(code: number, reason: string): void {
    if (this.#client !== undefined) this.#client.end(code, reason);
    else if (this.upstream.readyState === 1 /* OPEN */) this.upstream.close(code, reason);
  }

  /** Last resort when the upstream does not answer a close: drop its connection (reported as 1006). */
  terminate(): void {
    this.upstream.terminate();
  }

  // ---------------------------------------------------------------- upstream side (ws events)

  #onUpstreamMessage(data: Buffer, isBinary: boolean): void {
    const client = this.#client;
    if (client !== undefined) {
      this.#sendToClient(client, data, isBinary);
    } else if (!this.#clientOpened) {
      (this.#early ??= []).push([data, isBinary]);
    }
  }

  #sendToClient(client: ClientSocket<{ readonly bridge: Bridge }>, data: Buffer, isBinary: boolean): void {
    // Not paused means uWS held at most highWater after the last send: room for one more piece.
    if (!this.#upstreamPaused && data.length <= FRAGMENT_BYTES) {
      if (client.send(data, isBinary) === SEND_DROPPED) return this.#dropped(client);
      if (client.getBufferedAmount() > this.#limits.highWater) this.#pauseUpstream();
      return;
    }
    (this.#outbox ??= []).push({ data, isBinary, sent: 0 });
    this.#outboxBytes += data.length;
    this.#flushOutbox(client);
  }

  /** Hands uWS what waits in the outbox, a message or fragment at a time, while it holds at most highWater. */
  #flushOutbox(client: ClientSocket<{ readonly bridge: Bridge }>): void {
    const outbox = this.#outbox!;
    const highWater = this.#limits.highWater;
    while (outbox.length > 0 && client.getBufferedAmount() <= highWater) {
      const entry = outbox[0]!;
      const { data, sent } = entry;
      const end = Math.min(data.length, sent + FRAGMENT_BYTES);
      const piece = sent === 0 && end === data.length ? data : data.subarray(sent, end);
      // The fragment calls report only success or not (backpressure and a drop alike); a drop cannot
      // happen here: uWS drops only when it already holds more than its limit, which is above highWater.
      if (sent === 0 && end === data.length) {
        if (client.send(piece, entry.isBinary) === SEND_DROPPED) return this.#dropped(client);
      } else if (sent === 0) client.sendFirstFragment(piece, entry.isBinary);
      else if (end < data.length) client.sendFragment(piece);
      else client.sendLastFragment(piece);
      entry.sent = end;
      this.#outboxBytes -= end - sent;
      if (end === data.length) outbox.shift();
    }
    if (outbox.length === 0) this.#outbox = undefined;
    else this.#pauseUpstream();
  }

  #pauseUpstream(): void {
    if (this.#upstreamPaused) return;
    this.#upstreamPaused = true;
    this.upstream.pause();
    this.owner.clientFellBehind();
  }

  /** uWS refused a send: cannot happen while sends wait for highWater (uWS's limit is above it); never lose data silently. */
  #dropped(client: ClientSocket<{ readonly bridge: Bridge }>): void {
    client.end(1011, 'client is not reading fast enough');
  }

  #onUpstreamError(error: Error & { code?: string }): void {
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#upstreamTooBig = true;
  }

  #onUpstreamClose(code: number, reason: Buffer): void {
    if (this.#upstreamTooBig) {
      // ws closed the upstream itself and reports 1006; the client should learn the real reason.
      this.#finish('success');
      code = 1009;
      reason = Buffer.from('upstream message too big');
    } else {
      this.#finish(code === 1006 ? 'reset' : 'success');
    }
    if (!this.#clientOpened) this.#upstreamClose = [code, reason];
    else this.#closeClientLike(code, reason);
  }

  #closeClientLike(code: number, reason: Buffer | undefined): void {
    const client = this.#client;
    if (client === undefined) return;
    this.#client = undefined;
    if (code === 1005) client.end();
    else if (isSendableCloseCode(code)) client.end(code, reason ?? '');
    else client.end(1011, 'upstream connection lost'); // 1006: the upstream vanished without a close frame
  }

  #finish(outcome: RequestOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.instance.requestFinished(outcome);
    this.owner.bridgeClosed(this);
  }
}
