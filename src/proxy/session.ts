/**
 * One proxied request: its state from the moment uWS hands it over until the
 * last byte reaches the client, and the undici dispatch handler for it.
 *
 * The session is its own dispatch handler (undici calls `onHeaders`, `onData`,
 * ... on it) so a request costs one object, not two. Every field is set in the
 * constructor so all sessions share one hidden class.
 *
 * It implements the handler interface undici's HTTP/1.1 core speaks natively
 * (`onConnect`/`onHeaders`/`onData`/`onComplete`/`onError`), not the newer
 * controller interface (`onRequestStart`/`onResponseStart`/...). In undici 7 the
 * newer one is an adapter over the same calls (`UnwrapHandler`): per response it
 * allocates a handler and a controller and parses every header into an object,
 * whose names and values we would then copy back into uWS. The native interface
 * hands over the raw header bytes, which go to uWS untouched (measured in
 * bench/results, see docs/bench.md). undici is pinned to 7.x for this reason.
 *
 * Rules of uWS that shape this file:
 * - `res` is valid until `onAborted` fires or the response ends; never touch it after.
 * - writes made outside a uWS callback (all of undici's callbacks) go inside
 *   `res.cork()`, which flushes them in one syscall; the module-level `corked*`
 *   functions do that without allocating a closure per write.
 * - `tryEnd` reports backpressure and does not buffer; `write` buffers everything.
 *
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import type { HttpResponse } from 'uWebSockets.js';
import { classifyUpstreamError, type Instance, type RequestOutcome } from '../upstream/index.js';
import { asksToClose, decimalValue, ResponseHeaderAction, responseHeaderAction } from './headers.js';
import { failureStatus, statusBodies, statusLines } from './errors.js';
import type { RequestBodySource } from './request-body.js';
import type { CollectedRequestHeaders } from './request-headers.js';
import type { ProxyRoute } from './route.js';

/** What the proxy shares with every session (logging, counters). */
export interface SessionOwner {
  sessionFinished(session: Session): void;
  /** True while shutting down: responses then close their connection. */
  readonly draining: boolean;
}

const enum BodyMode {
  /** No response body may be sent (HEAD, 204, 304). */
  None,
  /** Content-Length known: `tryEnd` with the total. */
  Fixed,
  /** Length unknown: uWS chunked encoding via `write`. */
  Chunked,
}

/** Idempotent methods (RFC 9110 9.2.2): safe to retry when nothing came back. */
const idempotentMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** `"200 OK"`-style status lines for standard reasons, built once (the common case allocates nothing). */
const standardStatusLines = new Map<number, string>();
for (const [code, reason] of Object.entries(STATUS_CODES)) standardStatusLines.set(Number(code), `${code} ${reason}`);

function statusLineFor(status: number, message: string | undefined): string {
  if (message === undefined || message === '' || message === STATUS_CODES[status]) {
    return standardStatusLines.get(status) ?? `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
  }
  return `${status} ${message}`;
}

// cork() targets: set immediately before a synchronous res.cork(fn) call.
let corkSession: Session;
let corkStatus = 0;
let corkChunk: Buffer;
function corkedFlushHead(): void {
  corkSession.flushHead();
}

/**
 * Response heads waiting for their first body bytes. undici reports status,
 * body and end of a small response in one parser pass; writing the head in the
 * same cork as the body makes the whole response one write(2) instead of two.
 * If no body comes in the same pass (a slow stream, a long poll), the microtask
 * below writes the head alone, so headers are never held back by more than that.
 */
const pendingHeads: Session[] = [];
let headFlushScheduled = false;
function flushPendingHeads(): void {
  headFlushScheduled = false;
  for (let i = 0; i < pendingHeads.length; i++) {
    const session = pendingHeads[i]!;
    if (session.headPending && !session.aborted) {
      corkSession = session;
      session.res.cork(corkedFlushHead);
    }
  }
  pendingHeads.length = 0;
}
function corkedResponseData(): void {
  corkSession.writeBody(corkChunk);
}
function corkedResponseEnd(): void {
  corkSession.endBody();
}
function corkedError(): void {
  corkSession.writeErrorResponse(corkStatus);
}

/**
 * Aborting with an error named TimeoutError makes the upstream module count the
 * attempt as a timeout (not a reset). Made once: aborting allocates nothing.
 */
const deadlineError = new DOMException('request deadline passed', 'TimeoutError');
const clientGoneError = new DOMException('client closed the connection', 'AbortError');

function retryDispatch(session: Session, instance: Instance): void {
  if (session.aborted || session.finished) {
    return;
  }
  session.dispatchTo(instance);
}

function rejectLater(session: Session, status: number): void {
  session.respondError(status);
}

function onDeadline(session: Session): void {
  session.deadlineExpired();
}

export class Session implements Dispatcher.DispatchHandler, CollectedRequestHeaders {
  readonly owner: SessionOwner;
  readonly res: HttpResponse;
  readonly startedAt: number;
  method: string;
  /** Lowercase host without port, for routing. */
  host: string;
  /** Normalised path (no query). */
  path: string;
  /** Query string without `?`, possibly empty. */
  query: string;
  clientIp: string;
  /**
   * The address instance selection hashes on (ip_hash): the client's, which behind a
   * trusted proxy is taken from X-Forwarded-For; otherwise the peer's.
   */
  balanceIp: string;
  /** Headers to send upstream, flat [name, value, ...]: keeps repeats and order. */
  readonly upstreamHeaders: string[];
  route: ProxyRoute | undefined;
  body: RequestBodySource | undefined;
  instance: Instance | undefined;
  /** Bit mask of instances tried so far (Instance.bit), for retries. */
  triedInstances: number;
  attempts: number;
  aborted: boolean;
  finished: boolean;
  responseStarted: boolean;
  status: number;
  bytesSent: number;
  /** Cancels the upstream attempt in flight (undici's `onConnect` abort); undefined between attempts. */
  abortUpstream: ((reason: Error) => void) | undefined;
  dispatchOptions: Dispatcher.DispatchOptions;
  deadline: NodeJS.Timeout | undefined;
  /** Set while the headers pass: raw values needed after forEach completes. */
  rawHost: string | undefined;
  hostCount: number;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  framingError: boolean;
  connectionHeader: string | undefined;
  xForwardedFor: string | undefined;
  xForwardedProto: string | undefined;
  xForwardedHost: string | undefined;
  adminToken: string | undefined;
  headerBytes: number;
  #bodyMode: BodyMode;
  #expectedLength: number;
  /** True once `tryEnd` has sent the whole declared length: `res` is then off limits. */
  #responseComplete: boolean;
  /** A chunk `tryEnd` could not take, kept until `onWritable`. */
  #pending: Buffer | undefined;
  #pendingOffset: number;
  #writableBound: ((offset: number) => boolean) | undefined;

  constructor(owner: SessionOwner, res: HttpResponse) {
    this.owner = owner;
    this.res = res;
    this.startedAt = performance.now();
    this.method = '';
    this.host = '';
    this.path = '';
    this.query = '';
    this.clientIp = '';
    this.balanceIp = '';
    this.upstreamHeaders = [];
    this.route = undefined;
    this.body = undefined;
    this.instance = undefined;
    this.triedInstances = 0;
    this.attempts = 0;
    this.aborted = false;
    this.finished = false;
    this.responseStarted = false;
    this.status = 0;
    this.bytesSent = 0;
    this.abortUpstream = undefined;
    this.dispatchOptions = {
      path: '',
      method: 'GET',
      headers: this.upstreamHeaders,
      body: null,
      headersTimeout: null,
      bodyTimeout: null,
    };
    this.deadline = undefined;
    this.rawHost = undefined;
    this.hostCount = 0;
    this.contentLength = undefined;
    this.transferEncoding = undefined;
    this.framingError = false;
    this.connectionHeader = undefined;
    this.xForwardedFor = undefined;
    this.xForwardedProto = undefined;
    this.xForwardedHost = undefined;
    this.adminToken = undefined;
    this.headerBytes = 0;
    this.#bodyMode = BodyMode.Chunked;
    this.#expectedLength = 0;
    this.#responseComplete = false;
    this.#pending = undefined;
    this.#pendingOffset = 0;
    this.#writableBound = undefined;
  }

  /** HeaderLookup for the router: first value of a lowercase header name. */
  get(lowerCaseName: string): string | undefined {
    const headers = this.upstreamHeaders;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === lowerCaseName) return headers[i + 1];
    return undefined;
  }

  /** uWS onAborted: the client went away. Cancel upstream work; never touch `res` again. */
  clientAborted(): void {
    this.aborted = true;
    this.body?.fail(clientGoneError);
    this.abortUpstream?.(clientGoneError);
    this.finish();
  }

  /** Sends the request to `instance` (first attempt or a retry). */
  dispatchTo(instance: Instance): void {
    const route = this.route!;
    this.instance = instance;
    this.triedInstances |= instance.bit;
    this.attempts++;
    this.abortUpstream = undefined;
    const options = this.dispatchOptions;
    options.path = this.query === '' ? route.upstreamPath(this.path) : `${route.upstreamPath(this.path)}?${this.query}`;
    options.method = this.method as Dispatcher.HttpMethod;
    options.headersTimeout = route.readTimeoutMs;
    options.bodyTimeout = route.readTimeoutMs;
    // A fresh iterator per attempt: the source survives an attempt that failed to connect.
    options.body = this.body ? (this.body.chunks() as unknown as Dispatcher.DispatchOptions['body']) : null;
    if (this.attempts === 1 && route.requestTimeoutMs !== undefined) {
      this.deadline = setTimeout(onDeadline, route.requestTimeoutMs, this);
    }
    instance.requestStarted();
    // dispatch() returning false means the pool is saturated: the request is queued
    // (bounded by the pool's connection limit), so there is nothing more to do here.
    instance.dispatchers[route.connectSlot]!.dispatch(options, this);
  }

  // --- undici DispatchHandler -------------------------------------------------

  onConnect(abort: (reason?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.aborted) abort(clientGoneError);
  }

  /**
   * Status and raw headers (`[name, value, ...]` as the upstream sent them, views
   * of the bytes read). Returning true: never pause here, see `onData`.
   */
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.aborted) return true;
    this.responseStarted = true;
    this.status = statusCode;
    this.#statusText = statusText;
    this.#rawResponseHeaders = rawHeaders;
    this.#resumeUpstream = resume;
    this.headPending = true;
    pendingHeads.push(this);
    if (!headFlushScheduled) {
      headFlushScheduled = true;
      queueMicrotask(flushPendingHeads);
    }
    return true;
  }

  /** Writes the response head if it is still waiting (inside cork). */
  flushHead(): void {
    if (!this.headPending) return;
    this.headPending = false;
    this.writeResponseHead(this.status, this.#rawResponseHeaders!);
    this.#rawResponseHeaders = undefined;
  }

  #statusText = '';
  /** The upstream's raw headers until the head is written (see pendingHeads). */
  #rawResponseHeaders: Buffer[] | undefined = undefined;
  /** undici's resume for a paused response (see #waitForWritable). */
  #resumeUpstream: (() => void) | undefined = undefined;
  /** True while the client cannot take more: onData then tells undici to stop reading. */
  #upstreamPaused = false;
  /** Status and headers received but not yet written (see pendingHeads). */
  headPending = false;

  /** A body chunk; returning false pauses the upstream until the client drains. */
  onData(chunk: Buffer): boolean {
    if (this.aborted) return true;
    corkSession = this;
    corkChunk = chunk;
    this.res.cork(corkedResponseData);
    return !this.#upstreamPaused;
  }

  onComplete(): void {
    this.#settleInstance(this.status >= 500 ? 'status_5xx' : 'success');
    if (this.aborted) return;
    // After a completing tryEnd, uWS forbids any further access to `res`, cork included.
    if (!this.#responseComplete) {
      corkSession = this;
      this.res.cork(corkedResponseEnd);
    }
    this.finish();
  }

  onError(error: Error): void {
    const outcome = this.aborted ? 'cancelled' : classifyUpstreamError(error);
    this.#settleInstance(outcome);
    if (this.aborted || this.finished) return;
    if (this.responseStarted) {
      // Bytes already reached the client: all we can do is cut the connection,
      // so the client sees a truncated response rather than a complete-looking one.
      if (!this.#responseComplete) this.res.close();
      this.finish();
      return;
    }
    if (this.#mayRetry(outcome)) {
      const next = this.route!.upstream.select(this.balanceIp, this.instance, this.triedInstances) ?? this.#retrySameInstance(outcome);
      if (next) {
        // Dispatch from a fresh macrotask: undici reports the error before its client
        // has finished tearing the broken socket down, and a synchronous retry can be
        // written onto that same dead socket.
        setImmediate(retryDispatch, this, next);
        return;
      }
    }
    this.respondError(failureStatus(outcome, error));
  }

  // --- response writing (called inside cork) ----------------------------------

  writeResponseHead(status: number, rawHeaders: Buffer[]): void {
    const res = this.res;
    res.writeStatus(statusLineFor(status, this.#statusText));
    // Names and values go to uWS as the bytes the upstream sent (uWS copies them):
    // no string is made of any header on the way through.
    let length: Buffer | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const action = responseHeaderAction(name);
      if (action === ResponseHeaderAction.Forward) {
        res.writeHeader(name, rawHeaders[i + 1]!);
      } else if (action === ResponseHeaderAction.ContentLength) {
        length ??= rawHeaders[i + 1];
      }
    }
    // uWS closes the connection after answering a client that sent `Connection: close`
    // (and we do while draining) but does not say so: say it, so the client does not
    // send its next request into a closing socket.
    if (this.owner.draining || (this.connectionHeader !== undefined && asksToClose(this.connectionHeader))) {
      res.writeHeader('connection', 'close');
    }
    // llhttp has already refused a Content-Length that is not a plain number.
    const declared = length === undefined ? -1 : decimalValue(length);
    if (this.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.#bodyMode = BodyMode.None;
      this.#expectedLength = declared;
    } else if (declared >= 0) {
      this.#bodyMode = BodyMode.Fixed;
      this.#expectedLength = declared;
    } else {
      this.#bodyMode = BodyMode.Chunked;
    }
  }

  writeBody(chunk: Buffer): void {
    if (this.headPending) this.flushHead();
    if (this.#bodyMode === BodyMode.None) return;
    const res = this.res;
    this.bytesSent += chunk.length;
    if (this.#bodyMode === BodyMode.Fixed) {
      this.#pendingOffset = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.#expectedLength);
      if (done) this.#responseComplete = true;
      if (done || ok) return;
      this.#pending = chunk;
      this.#waitForWritable();
      return;
    }
    if (!res.write(chunk)) this.#waitForWritable();
  }

  endBody(): void {
    if (this.headPending) this.flushHead();
    const res = this.res;
    switch (this.#bodyMode) {
      case BodyMode.None:
        // endWithoutBody(undefined, ...) would report a garbage length: call it bare when
        // there is no length to report (the connection: close header covers draining).
        if (this.#expectedLength >= 0) res.endWithoutBody(this.#expectedLength, this.owner.draining);
        else res.endWithoutBody();
        return;
      case BodyMode.Fixed:
        // A body of Content-Length 0 never called tryEnd; anything else has completed it.
        if (this.#expectedLength === 0) res.end(undefined, this.owner.draining);
        return;
      case BodyMode.Chunked:
        res.end(undefined, this.owner.draining);
        return;
    }
  }

  writeErrorResponse(status: number): void {
    const res = this.res;
    res.writeStatus(statusLines[status] ?? `${status}`);
    res.writeHeader('content-type', 'text/plain; charset=utf-8');
    if (status === 503 && this.route) res.writeHeader('retry-after', String(this.route.upstream.retryAfterSeconds()));
    // Close the connection when the request body was not read to the end: what
    // remains of it must not be parsed as the next request.
    const bodyUnread = this.body !== undefined && !this.body.ended;
    res.end(statusBodies[status] ?? '', bodyUnread || this.owner.draining || status === 400 || status === 431);
  }

  /** Answers with warpdrive's own error response (never after response bytes went out). */
  respondError(status: number): void {
    if (this.aborted || this.finished) return;
    this.status = status;
    this.body?.fail(new Error(`request answered with ${status}`));
    corkSession = this;
    corkStatus = status;
    this.res.cork(corkedError);
    this.finish();
  }

  /**
   * Answers a request that is refused before dispatch (malformed, too large, no
   * route, not allowed). The answer is sent from the next macrotask, not inside
   * the uWS request callback: there, uWS would go on parsing the bytes already
   * buffered on the connection after our `end(..., close)` and hand a request
   * pipelined behind a 400 to us (a smuggling vector, and RFC 9112 9.6 forbids
   * processing it). Outside its parse loop uWS aborts the connection if another
   * request follows, and closes it after the answer otherwise.
   * See native-notes/uws-http-behaviour.md.
   */
  reject(status: number): void {
    setImmediate(rejectLater, this, status);
  }

  deadlineExpired(): void {
    this.deadline = undefined;
    if (this.finished || this.aborted) return;
    if (this.responseStarted) {
      this.abortUpstream?.(deadlineError);
      return;
    }
    const abort = this.abortUpstream;
    this.respondError(504);
    abort?.(deadlineError);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.deadline) clearTimeout(this.deadline);
    this.owner.sessionFinished(this);
  }

  // --- internals ---------------------------------------------------------------

  #settleInstance(outcome: RequestOutcome): void {
    const instance = this.instance;
    if (!instance) return;
    this.instance = undefined;
    instance.requestFinished(outcome);
    // Keep the last instance for logging and retry exclusion.
    this.#lastInstance = instance;
  }

  #lastInstance: Instance | undefined = undefined;

  get lastInstance(): Instance | undefined {
    return this.#lastInstance;
  }

  /**
   * Caddy's rule: a failure to connect is always retried (nothing was sent), as long
   * as no body bytes were pulled; a broken connection is retried only for idempotent
   * requests whose body (if any) was not yet sent. Timeouts are not retried: the
   * upstream may still be working on the request.
   */
  #mayRetry(outcome: RequestOutcome): boolean {
    if (this.body?.started) return false;
    const retries = this.route!.upstream.spec.retries;
    if (outcome === 'connect_failure') return this.attempts <= retries;
    // A reset earns at least one retry, whatever `retries` says: see #retrySameInstance.
    return outcome === 'reset' && idempotentMethods.has(this.method) && this.attempts <= Math.max(1, retries);
  }

  /**
   * The most common production 502: the upstream closed an idle keep-alive
   * connection just as we reused it. With no other instance to try, one retry on
   * the same instance gets a fresh connection.
   */
  #retrySameInstance(outcome: RequestOutcome): Instance | undefined {
    if (outcome !== 'reset' || this.attempts > 1) return undefined;
    const last = this.#lastInstance;
    return last && last.isAvailable() ? last : undefined;
  }

  #waitForWritable(): void {
    this.#upstreamPaused = true;
    if (!this.#writableBound) {
      this.#writableBound = this.#onWritable.bind(this);
      this.res.onWritable(this.#writableBound);
    }
  }

  /** uWS onWritable: the client drained; finish the pending chunk, then let undici go on. */
  #onWritable(offset: number): boolean {
    if (this.aborted || this.#responseComplete) return true;
    const pending = this.#pending;
    if (pending !== undefined) {
      const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.#pendingOffset), this.#expectedLength);
      if (done) this.#responseComplete = true;
      if (!ok && !done) return false;
      this.#pending = undefined;
    }
    if (this.#upstreamPaused) {
      this.#upstreamPaused = false;
      this.#resumeUpstream?.();
    }
    return true;
  }
}
