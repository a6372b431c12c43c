/**
 * The response writer: the only code that touches uWS's `HttpResponse`. It takes
 * a response from any source (undici, a filter's own answer, a file, a cache
 * entry) as a head and a stream of chunks, and carries uWS's rules so nothing
 * else has to:
 *
 * - `res` is valid until `onAborted` fires or the response ends; it is never
 *   touched after either (`aborted`, `#complete`).
 * - writes made outside a uWS callback go inside `res.cork()`, which flushes them
 *   in one syscall; the module-level `corked*` functions do that without making
 *   a closure per write.
 * - `tryEnd` reports backpressure and does not buffer (the rest of a chunk is kept
 *   here until `onWritable`); `write` (chunked) buffers everything and reports
 *   whether the socket is still draining.
 * - the head is not written when it is decided but with the first body bytes or
 *   the end: undici reports status, body and end of a small response in one parser
 *   pass, and one cork then makes the whole response one write(2). Nothing is lost
 *   by waiting: uWS writes the blank line that ends a head only with the first body
 *   write or the end, so a client cannot read a head any earlier anyway
 *   (native-notes). And an upstream failure before the first body byte can still
 *   become a clean 502 (`discardPendingHead`).
 * - `endWithoutBody(length)` makes uWS drop the connection at the client's next
 *   request, so a HEAD/304 Content-Length is written as a header and
 *   `endWithoutBody()` is called bare.
 *
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import type { BodyWriter } from '../pipeline/body.js';
import { connectionTokens, decimalValue, droppedResponseHeaders, EncodedHeaders, ResponseHeaderAction, responseHeaderAction } from '../pipeline/headers.js';
import type { ResponseHead } from '../pipeline/response-head.js';
import { statusBodies } from '../pipeline/errors.js';
import { formatRemoteAddress } from './client-address.js';

/** What the sink reports to the request that owns it. */
export interface SinkOwner {
  /** uWS `onAborted`: the client went away; `res` is gone. */
  clientAborted(): void;
  /** The response was ended or cut through `end()`/`abort()`: nothing more will be written. */
  responseEnded(): void;
}

const enum BodyMode {
  /** No response body may be sent (HEAD, 204, 304). */
  None,
  /** Content-Length known: `tryEnd` with the total. */
  Fixed,
  /** Length unknown: uWS chunked encoding via `write`. */
  Chunked,
}

const enum HeadState {
  /** Nothing decided yet. */
  None,
  /** Decided, waiting for the first body bytes or the microtask. */
  Pending,
  /** Handed to uWS. */
  Written,
}

const badGatewayHeaders = ['content-type', 'text/plain; charset=utf-8'];

/** `"200 OK"`-style status lines for standard reasons, built once (the common case allocates nothing). */
const standardStatusLines = new Map<number, string>();
for (const [code, reason] of Object.entries(STATUS_CODES)) standardStatusLines.set(Number(code), `${code} ${reason}`);

export function statusLineFor(status: number, message: string | undefined): string {
  if (message === undefined || message === '' || message === STATUS_CODES[status]) {
    return standardStatusLines.get(status) ?? `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
  }
  return `${status} ${message}`;
}

// cork() targets: set immediately before a synchronous res.cork(fn) call.
let corkSink: ResponseSink;
let corkChunk: Buffer;
let corkOk = false;
function corkedWrite(): void {
  corkOk = corkSink.writeCorked(corkChunk);
}
function corkedEnd(): void {
  corkSink.endCorked();
}
function corkedWhole(): void {
  corkSink.wholeCorked();
}

export class ResponseSink implements BodyWriter {
  readonly res: HttpResponse;
  readonly #owner: SinkOwner;
  /** The client went away: `res` is off limits. */
  aborted = false;
  /** The response was completed or cut: nothing more will be written. */
  finished = false;
  /** Status of the response started (0 before). */
  status = 0;
  /** Body bytes handed to uWS. */
  bytesSent = 0;
  /** Close the connection after this response (set before the head is written). */
  closeConnection = false;
  /** The request said `Connection: close` (uWS then leaves that header out of its answers: it is ours to write). */
  clientAskedToClose = false;
  /** HEAD request: the head is sent, never a body. */
  isHeadRequest = false;
  onDrain: (() => void) | undefined = undefined;
  /** See BodyWriter.copiesChunks: uWS copies what it does not send; #pending lives until onDrain. */
  readonly copiesChunks = true;
  #head = HeadState.None;
  #statusText = '';
  #rawHeaders: Buffer[] | undefined = undefined;
  #pairs: string[] | undefined = undefined;
  /** The header lines of a whole response (respond()), until it is written. */
  #wholePairs: readonly string[] | EncodedHeaders | undefined = undefined;
  #mode = BodyMode.Chunked;
  #expectedLength = -1;
  /** True once `tryEnd` has sent the whole declared length: `res` is then off limits. */
  #complete = false;
  /** A chunk `tryEnd` could not take, kept until `onWritable`. */
  #pending: Buffer | undefined = undefined;
  #pendingOffset = 0;
  #writableBound: ((offset: number) => boolean) | undefined = undefined;
  /** Whole-response parameters for corkedWhole. */
  #wholeBody: string | Buffer = '';

  constructor(owner: SinkOwner, res: HttpResponse) {
    this.res = res;
    this.#owner = owner;
    res.onAborted(this.#onAborted.bind(this));
  }

  get headPending(): boolean {
    return this.#head === HeadState.Pending;
  }

  /** True once a head went out to uWS (or is about to): a status can no longer be chosen. */
  get started(): boolean {
    return this.#head !== HeadState.None;
  }

  /** The client's address in its usual form (valid while the response is open). */
  remoteAddress(): string {
    return formatRemoteAddress(this.res.getRemoteAddressAsText());
  }

  // ------------------------------------------------------------- streaming

  /**
   * Decides the head (written with the first body bytes, or from a microtask).
   * Give either undici's raw headers or a ResponseHead a filter has shaped.
   * `bodyLength` overrides the declared length (-1: use Content-Length if any).
   */
  startResponse(status: number, statusText: string, raw: Buffer[] | undefined, head: ResponseHead | undefined): void {
    this.status = status;
    this.#statusText = statusText;
    this.#head = HeadState.Pending;
    let declared = -1;
    if (head !== undefined) {
      const pairs = head.raw === undefined ? head.pairs : undefined;
      if (pairs === undefined) {
        this.#rawHeaders = head.raw;
        declared = rawContentLength(head.raw!);
      } else {
        this.#pairs = pairs;
        declared = head.contentLength;
      }
    } else {
      this.#rawHeaders = raw;
      declared = rawContentLength(raw!);
    }
    if (this.isHeadRequest || status === 204 || status === 304 || status < 200) {
      this.#mode = BodyMode.None;
      // RFC 9110 8.6: never a Content-Length on 204; on HEAD/304 it describes the representation.
      this.#expectedLength = status === 204 ? -1 : declared;
    } else if (declared >= 0) {
      this.#mode = BodyMode.Fixed;
      this.#expectedLength = declared;
    } else {
      this.#mode = BodyMode.Chunked;
    }
  }

  /**
   * Forgets a head that has not gone out yet, so that the request can still be
   * answered with an error status. False when bytes already reached uWS.
   */
  discardPendingHead(): boolean {
    if (this.#head !== HeadState.Pending) return this.#head === HeadState.None;
    this.#head = HeadState.None;
    this.#rawHeaders = undefined;
    this.#pairs = undefined;
    return true;
  }

  write(chunk: Buffer): boolean {
    if (this.aborted || this.finished) return true;
    corkSink = this;
    corkChunk = chunk;
    this.res.cork(corkedWrite);
    return corkOk;
  }

  end(): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    // After a completing tryEnd, uWS forbids any further access to `res`, cork included.
    if (!this.#complete) {
      corkSink = this;
      this.res.cork(corkedEnd);
    }
    this.#owner.responseEnded();
  }

  /**
   * The body cannot be completed. If nothing has gone out yet the client gets a clean
   * 502; otherwise the connection is cut, so the client sees a truncated response
   * (a chunked body without its terminator, or fewer bytes than declared), never a
   * complete-looking one.
   */
  abort(): void {
    if (this.aborted || this.finished) return;
    if (this.discardPendingHead()) {
      this.closeConnection = true;
      this.respond(502, '', badGatewayHeaders, statusBodies[502]!);
      this.#owner.responseEnded();
      return;
    }
    this.finished = true;
    if (!this.#complete) this.res.close();
    this.#owner.responseEnded();
  }

  /** Writes the pending head (inside cork). */
  flushHead(): void {
    if (this.#head !== HeadState.Pending) return;
    this.#head = HeadState.Written;
    const res = this.res;
    res.writeStatus(statusLineFor(this.status, this.#statusText));
    if (this.#pairs !== undefined) writePairs(res, this.#pairs);
    else writeRawHeaders(res, this.#rawHeaders!);
    this.#rawHeaders = undefined;
    this.#pairs = undefined;
    // A HEAD or 304 answer's length describes the representation; uWS's own way of
    // writing it (endWithoutBody(length)) breaks keep-alive, see the module comment.
    if (this.#mode === BodyMode.None && this.#expectedLength >= 0) res.writeHeader('content-length', String(this.#expectedLength));
    // uWS closes the connection after answering a client that sent `Connection: close`
    // (and we do while draining) but does not say so: say it, so the client does not
    // send its next request into a closing socket.
    if (this.closeConnection) res.writeHeader('connection', 'close');
  }

  /** write() inside cork. */
  writeCorked(chunk: Buffer): boolean {
    if (this.#head === HeadState.Pending) this.flushHead();
    if (this.#mode === BodyMode.None) return true;
    const res = this.res;
    this.bytesSent += chunk.length;
    if (this.#mode === BodyMode.Fixed) {
      this.#pendingOffset = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.#expectedLength);
      if (done) this.#complete = true;
      if (done || ok) return true;
      this.#pending = chunk;
      this.#waitForWritable();
      return false;
    }
    if (res.write(chunk)) return true;
    this.#waitForWritable();
    return false;
  }

  /** end() inside cork. */
  endCorked(): void {
    if (this.#head === HeadState.Pending) this.flushHead();
    const res = this.res;
    switch (this.#mode) {
      case BodyMode.None:
        // Bare: endWithoutBody(undefined, close) reports a garbage length and a given length
        // breaks keep-alive (module comment); the length went out as a header, and the
        // connection: close header covers closing.
        res.endWithoutBody();
        return;
      case BodyMode.Fixed:
        // Every byte of a non-empty declared length went through tryEnd, which completed the
        // response; fewer bytes than declared means the source ended early: cut, do not pad.
        if (this.#expectedLength === 0) res.end(undefined, this.closeConnection);
        else res.close();
        return;
      case BodyMode.Chunked:
        res.end(undefined, this.closeConnection);
        return;
    }
  }

  // ------------------------------------------------------------- whole responses

  /**
   * A complete response in one go (warpdrive's own answers, redirects, small filter
   * bodies): status, flat header pairs (no Content-Length: uWS writes it) and body.
   */
  respond(status: number, statusText: string, pairs: readonly string[] | EncodedHeaders, body: string | Buffer): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.status = status;
    this.#statusText = statusText;
    this.#wholePairs = pairs;
    this.#wholeBody = body;
    this.#head = HeadState.Written;
    this.bytesSent = this.isHeadRequest || status === 204 || status === 304 ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    corkSink = this;
    this.res.cork(corkedWhole);
  }

  /** respond() inside cork. */
  wholeCorked(): void {
    const res = this.res;
    res.writeStatus(statusLineFor(this.status, this.#statusText));
    const pairs = this.#wholePairs!;
    this.#wholePairs = undefined;
    if (pairs instanceof EncodedHeaders) writeEncoded(res, pairs.bytes);
    else writePairs(res, pairs);
    const body = this.#wholeBody;
    this.#wholeBody = '';
    const bodiless = this.isHeadRequest || this.status === 204 || this.status === 304;
    // `end(body, true)` writes `Connection: close` itself, unless the client asked to close;
    // `endWithoutBody()` never does. One header either way, not two.
    if (this.closeConnection && (bodiless || this.clientAskedToClose)) res.writeHeader('connection', 'close');
    if (bodiless) {
      const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      // As in endCorked: the length as a header, endWithoutBody bare.
      if (this.status !== 204 && (length > 0 || this.status !== 304)) res.writeHeader('content-length', String(length));
      res.endWithoutBody();
    } else {
      res.end(body, this.closeConnection);
    }
  }

  /**
   * Completes a WebSocket upgrade (uWS writes the 101). `context` is the one uWS gave the
   * upgrade handler; `userData` becomes the socket's user data.
   */
  upgrade<T>(userData: T, key: string, protocol: string, extensions: string, context: us_socket_context_t): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.status = 101;
    const res = this.res;
    res.cork(() => res.upgrade<T>(userData, key, protocol, extensions, context));
  }

  // ------------------------------------------------------------- internals

  #onAborted(): void {
    this.aborted = true;
    this.finished = true;
    this.#owner.clientAborted();
  }

  #waitForWritable(): void {
    if (!this.#writableBound) {
      this.#writableBound = this.#onWritable.bind(this);
      this.res.onWritable(this.#writableBound);
    }
  }

  /** uWS onWritable: the client drained; finish the pending chunk, then let the source go on. */
  #onWritable(offset: number): boolean {
    if (this.aborted || this.#complete) return true;
    const pending = this.#pending;
    if (pending !== undefined) {
      const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.#pendingOffset), this.#expectedLength);
      if (done) this.#complete = true;
      if (!ok && !done) return false;
      this.#pending = undefined;
    }
    const drain = this.onDrain;
    if (drain !== undefined) {
      this.onDrain = undefined;
      drain();
    }
    return true;
  }
}

/** Content-Length from raw header bytes (-1 when absent); llhttp has already refused one that is not a number. */
function rawContentLength(raw: Buffer[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (responseHeaderAction(raw[i]!) === ResponseHeaderAction.ContentLength) return decimalValue(raw[i + 1]!);
  }
  return -1;
}

/**
 * Names a `Connection` header lists beyond close/keep-alive (RFC 9110 7.6.1: they are
 * hop-by-hop too); undefined in the usual case of none.
 */
function rawConnectionListed(raw: Buffer[]): string[] | undefined {
  let listed: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (responseHeaderAction(raw[i]!) !== ResponseHeaderAction.Connection) continue;
    const bytes = raw[i + 1]!;
    // Nearly every upstream says just `keep-alive` or `close`: decided on the bytes, no string made.
    if (equalsIgnoringCase(bytes, 'keep-alive') || equalsIgnoringCase(bytes, 'close')) continue;
    const tokens = connectionTokens(bytes.toString('latin1'));
    if (tokens.length > 0) (listed ??= []).push(...tokens);
  }
  return listed;
}

function equalsIgnoringCase(bytes: Uint8Array, lower: string): boolean {
  if (bytes.length !== lower.length) return false;
  for (let i = 0; i < bytes.length; i++) if ((bytes[i]! | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * Names and values go to uWS as the bytes the upstream sent (uWS copies them): no
 * string is made of any header on the way through, unless a `Connection` header
 * names more headers to drop.
 */
function writeRawHeaders(res: HttpResponse, raw: Buffer[]): void {
  const listed = rawConnectionListed(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (responseHeaderAction(name) !== ResponseHeaderAction.Forward) continue;
    if (listed !== undefined && listed.includes(name.toString('latin1').toLowerCase())) continue;
    res.writeHeader(name, raw[i + 1]!);
  }
}

/** Lines filtered and encoded beforehand (EncodedHeaders): written as they are. */
function writeEncoded(res: HttpResponse, bytes: readonly Buffer[]): void {
  for (let i = 0; i < bytes.length; i += 2) res.writeHeader(bytes[i]!, bytes[i + 1]!);
}

function writePairs(res: HttpResponse, pairs: readonly string[]): void {
  let listed: string[] | undefined;
  for (let i = 0; i < pairs.length; i += 2) {
    if (pairs[i]!.length === 10 && pairs[i]!.toLowerCase() === 'connection') (listed ??= []).push(...connectionTokens(pairs[i + 1]!));
  }
  for (let i = 0; i < pairs.length; i += 2) {
    const lower = pairs[i]!.toLowerCase();
    if (droppedResponseHeaders.has(lower) || (listed !== undefined && listed.includes(lower))) continue;
    res.writeHeader(pairs[i]!, headerValueBytes(pairs[i + 1]!));
  }
}

/**
 * A header value as uWS should write it. Values that reach the sink as strings hold
 * one code unit per byte the upstream sent (decoded as latin1, ResponseHead); uWS
 * would write a string's characters as UTF-8, turning one such byte >= 0x80 into
 * two. ASCII values, nearly all of them, go as they are.
 */
function headerValueBytes(value: string): string | Buffer {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return Buffer.from(value, 'latin1');
  return value;
}
