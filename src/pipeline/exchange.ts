/**
 * One request's life: what the client asked, the route and filters that apply,
 * the upstream attempts, and the response on its way back. It is the only code
 * outside `src/upstream` that speaks undici's handler interface, and it writes
 * the response only through a `BodyWriter` chain that ends in the ResponseSink.
 *
 * The exchange is its own dispatch handler (undici calls `onHeaders`, `onData`,
 * ... on it) so a proxied request costs one object for the request, one for the
 * sink and the header list, not a handler and a controller more. Every field is
 * set in the constructor so all exchanges share one hidden class.
 *
 * It implements the handler interface undici's HTTP/1.1 core speaks natively
 * (`onConnect`/`onHeaders`/`onData`/`onComplete`/`onError`), not the newer
 * controller interface: in undici 7 that one is an adapter over the same calls
 * which, per response, allocates a handler and a controller and parses every
 * header into an object. The native interface hands over the raw header bytes,
 * which go to uWS untouched (measured in bench/results, see docs/bench.md).
 * undici is pinned to 7.x for this reason.
 *
 * Failures are `ProxyError`s (errors.ts): one place decides the status, the
 * retry and what the instance is charged with.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type { HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import { ResponseSink, type SinkOwner } from '../ingress/response-sink.js';
import type { Generation } from '../runtime/generation.js';
import type { Instance } from '../upstream/index.js';
import type { BodySource, BodyWriter } from './body.js';
import { asksToClose, type EncodedHeaders, wireHeaders } from './headers.js';
import { errors, fromUpstreamError, statusBodies, type ProxyError } from './errors.js';
import type { Filter } from './filter.js';
import type { RequestBodySource } from './request-body.js';
import { ResponseHead } from './response-head.js';
import type { ProxyRoute } from './route.js';

/** What every exchange of one proxy thread shares: the pipeline. */
export interface ExchangeOwner {
  /** True while shutting down: responses then close their connection. */
  readonly draining: boolean;
  /** The request filters are done (or resumed): select an instance and dispatch. */
  proceed(x: Exchange): void;
  /** A suspended request filter is done: run the filters after it. */
  resumeFilters(x: Exchange): void;
  exchangeFinished(x: Exchange): void;
}


/** Where the response came from, for filters and logs. */
export const enum ResponseSource {
  None,
  Upstream,
  /** Answered by a filter (`respond`) or by warpdrive itself (an error). */
  Local,
  /** A body source served by a filter (`serve`, or `replaceBody` of an upstream response). */
  Served,
}

/** Idempotent methods (RFC 9110 9.2.2): safe to retry when nothing came back. */
const idempotentMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

const textPlain = ['content-type', 'text/plain; charset=utf-8'] as const;

/**
 * Aborting with an error named TimeoutError makes undici report the attempt as a
 * timeout (not a reset). Made once: aborting allocates nothing.
 */
const deadlineError = new DOMException('request deadline passed', 'TimeoutError');
const clientGoneError = new DOMException('client closed the connection', 'AbortError');

/**
 * True while uWS's request callback runs (set by the pipeline). An answer that closes
 * the connection is then sent from the next macrotask: inside the callback uWS would
 * go on parsing bytes already buffered after our `end(..., close)` and hand a request
 * pipelined behind it to us (RFC 9112 9.6 forbids processing it). Outside its parse
 * loop uWS aborts the connection if another request follows, and closes it after the
 * answer otherwise. See native-notes/uws-http-behaviour.md.
 */
let insideRequestCallback = false;
export function setInsideRequestCallback(inside: boolean): void {
  insideRequestCallback = inside;
}

function retryDispatch(x: Exchange, instance: Instance): void {
  if (x.finished) return;
  x.dispatchTo(instance);
}

function respondLater(x: Exchange, status: number, pairs: readonly string[] | EncodedHeaders, body: string | Buffer, statusText: string): void {
  x.sendWhole(status, pairs, body, statusText);
}

function onDeadline(x: Exchange): void {
  x.deadlineExpired();
}

export class Exchange implements Dispatcher.DispatchHandler, SinkOwner {
  readonly owner: ExchangeOwner;
  /** The configuration this request runs under, held until it ends. */
  readonly generation: Generation;
  readonly sink: ResponseSink;
  readonly startedAt: number;
  /** The proxy thread (0: main), for logs. */
  readonly thread: number;
  /** `https` when the client came over TLS. */
  scheme: 'http' | 'https';
  method: string;
  /** Lowercase host without port or trailing dot, for routing ('' when absent). */
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
  // --- filled while uWS walks the request headers (capture.ts) ---
  /** The first Host value as sent; later ones only count (two Hosts are refused). */
  rawHost: string | undefined;
  hostCount: number;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  /** Repeated differing Content-Length, or a Transfer-Encoding other than one plain `chunked`. */
  framingError: boolean;
  connectionHeader: string | undefined;
  /** Repeats joined as one list (RFC 9110 5.3). */
  xForwardedFor: string | undefined;
  xForwardedProto: string | undefined;
  xForwardedHost: string | undefined;
  adminToken: string | undefined;
  /** Two X-Admin-Token headers are refused (400), as two Hosts are: never guess which one counts. */
  adminTokenCount: number;
  /** Names, values (in bytes) and line overhead, for max_header_bytes. */
  headerBytes: number;
  /** Some header value (the client's or a filter's) holds characters outside ASCII: send them as UTF-8 (capture.ts). */
  nonAsciiHeaders: boolean;
  /** A client header value held bytes that are not UTF-8 (uWS replaced them with U+FFFD): 400. */
  undecodableHeader: boolean;
  /** The client's WebSocket handshake (upgrades only). */
  secWebSocketKey: string;
  secWebSocketExtensions: string;
  /** Subprotocols the client offered, as sent (comma-separated); '' for none. */
  secWebSocketProtocol: string;
  // --- routing and upstream attempts ---
  route: ProxyRoute | undefined;
  /** Index of the next request filter to run (after a Suspended one). */
  filterIndex: number;
  body: RequestBodySource | undefined;
  instance: Instance | undefined;
  /** The instance of the last attempt, kept for logs and retry exclusion. */
  lastInstance: Instance | undefined;
  /** Bit mask of instances tried so far (Instance.bit), for retries. */
  triedInstances: number;
  attempts: number;
  /** Cancels the upstream attempt in flight (undici's `onConnect` abort); undefined between attempts. */
  abortUpstream: ((reason: Error) => void) | undefined;
  dispatchOptions: Dispatcher.DispatchOptions;
  deadline: NodeJS.Timeout | undefined;
  // --- response ---
  responseSource: ResponseSource;
  /** Status the upstream answered (0 if none). */
  upstreamStatus: number;
  /** Where response body chunks go: the sink, or the first of the transforms in front of it. */
  writer: BodyWriter;
  /** The head as filters shaped it (routes with responseHead filters only). */
  head: ResponseHead | undefined;
  /** A body that replaces the upstream's (X-Sendfile); the upstream's chunks are dropped. */
  replacement: BodySource | undefined;
  /** undici's resume for a paused response. */
  resumeUpstream: (() => void) | undefined;
  /** The failure that decided the answer (or cut the response), for logs. */
  error: ProxyError | undefined;
  /** What undici (or a filter) reported with it. */
  cause: unknown;
  finished: boolean;
  /** Per-filter state by slot (Filter slots are assigned at build time); allocated on first use. */
  locals: unknown[] | undefined;
  /** The X-Request-Id sent upstream and logged ('' when the request_id filter did not run). */
  requestId: string;
  /**
   * performance.now() at the first upstream attempt and at the end of the upstream's
   * response (or its failure); 0 when not measured. Only set when the generation asks
   * for upstream timing (metrics or the access log), so that it costs nothing otherwise.
   */
  upstreamStartedAt: number;
  upstreamEndedAt: number;
  #drainBound: (() => void) | undefined;

  /** Set for a WebSocket upgrade: the socket context uWS gave its upgrade handler. */
  upgradeContext: us_socket_context_t | undefined;

  constructor(owner: ExchangeOwner, generation: Generation, res: HttpResponse, thread: number) {
    this.owner = owner;
    this.generation = generation;
    this.sink = new ResponseSink(this, res);
    this.startedAt = performance.now();
    this.thread = thread;
    this.scheme = 'http';
    this.method = '';
    this.host = '';
    this.path = '';
    this.query = '';
    this.clientIp = '';
    this.balanceIp = '';
    this.upstreamHeaders = [];
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
    this.adminTokenCount = 0;
    this.headerBytes = 0;
    this.nonAsciiHeaders = false;
    this.undecodableHeader = false;
    this.secWebSocketKey = '';
    this.secWebSocketExtensions = '';
    this.secWebSocketProtocol = '';
    this.route = undefined;
    this.filterIndex = 0;
    this.body = undefined;
    this.instance = undefined;
    this.lastInstance = undefined;
    this.triedInstances = 0;
    this.attempts = 0;
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
    this.responseSource = ResponseSource.None;
    this.upstreamStatus = 0;
    this.writer = this.sink;
    this.head = undefined;
    this.replacement = undefined;
    this.resumeUpstream = undefined;
    this.error = undefined;
    this.cause = undefined;
    this.finished = false;
    this.locals = undefined;
    this.requestId = '';
    this.upstreamStartedAt = 0;
    this.upstreamEndedAt = 0;
    this.#drainBound = undefined;
  }

  /** HeaderLookup for the router and filters: first value of a lowercase request header name. */
  get(lowerCaseName: string): string | undefined {
    const headers = this.upstreamHeaders;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === lowerCaseName) return headers[i + 1];
    return undefined;
  }

  /** The status the client got (or is getting); 499 when it left before any. */
  get status(): number {
    const status = this.sink.status;
    return status === 0 && this.sink.aborted ? 499 : status;
  }

  // ------------------------------------------------------------- for filters

  /** Continues the request filters after this filter returned `Verdict.Suspended`. */
  resume(): void {
    if (this.finished) return;
    this.owner.resumeFilters(this);
  }

  /**
   * Answers the request with a complete response (`pairs`: flat [name, value, ...],
   * no Content-Length; uWS writes it). No upstream is asked.
   */
  respond(status: number, pairs: readonly string[] | EncodedHeaders, body: string | Buffer, statusText = ''): void {
    if (this.finished || this.sink.started) return;
    this.responseSource = ResponseSource.Local;
    const sink = this.sink;
    // What is left of an unread request body must not be parsed as the next request
    // (a 411 leaves a whole chunked body unread).
    sink.clientAskedToClose = this.connectionHeader !== undefined && asksToClose(this.connectionHeader);
    sink.closeConnection ||= this.owner.draining || (this.body !== undefined && !this.body.ended) || status === 400 || status === 411 || status === 431 || sink.clientAskedToClose;
    this.body?.fail(new Error(`request answered with ${status}`));
    if (sink.closeConnection && insideRequestCallback) {
      setImmediate(respondLater, this, status, pairs, body, statusText);
      return;
    }
    this.sendWhole(status, pairs, body, statusText);
  }

  /**
   * Answers with `head` and a streamed body from `source` (a file, a cache entry).
   * The route's responseHead filters see it as they see an upstream's (compression).
   */
  serve(head: ResponseHead, source: BodySource): void {
    if (this.finished || this.sink.started) return;
    this.responseSource = ResponseSource.Served;
    this.sink.closeConnection ||= this.owner.draining || (this.body !== undefined && !this.body.ended);
    this.body?.fail(new Error('request answered by a filter'));
    this.replacement = source;
    this.head = head;
    const filters = this.route?.filters.responseHead;
    if (filters !== undefined) runResponseHeadFilters(filters, this, head);
    if (this.finished) return;
    this.#startResponse(head.status, head.statusText, undefined, head);
    // A filter may have swapped the source (a precompressed sibling, say).
    this.replacement.start(this.writer);
  }

  /** Answers with warpdrive's own error response for `error`. */
  fail(error: ProxyError, cause?: unknown): void {
    if (this.finished) return;
    this.error = error;
    if (cause !== undefined) this.cause = cause;
    if (this.sink.started) {
      this.writer.abort();
      return;
    }
    // No upstream answer at all: a filter may have one of its own (the cache's stale entry).
    const upstreamFailed = error.source === 'connect' || error.source === 'read' || error.source === 'timeout' ? this.route?.filters.upstreamFailed : undefined;
    if (upstreamFailed !== undefined) {
      for (let i = 0; i < upstreamFailed.length; i++) if (upstreamFailed[i]!.upstreamFailed!(this, error)) return;
    }
    const status = error.status;
    const pairs: string[] = [...textPlain];
    if (status === 503 && this.route?.upstream !== undefined) pairs.push('retry-after', String(this.route.upstream.retryAfterSeconds()));
    this.respond(status, pairs, statusBodies[status] ?? '');
  }

  /** From a responseHead filter: drop the upstream's body and send `source` instead. */
  replaceBody(source: BodySource): void {
    this.replacement = source;
  }

  /** From a responseHead filter: put a transform (compression) in front of the current writer. */
  transformBody(wrap: (next: BodyWriter) => BodyWriter): void {
    this.writer = wrap(this.writer);
  }

  /** The per-request state of the filter in `slot` (see Filter slots in src/filters). */
  local<T>(slot: number): T | undefined {
    return this.locals?.[slot] as T | undefined;
  }

  setLocal(slot: number, value: unknown): void {
    (this.locals ??= [])[slot] = value;
  }

  // ------------------------------------------------------------- the sink's callbacks

  /** The sink ended or cut the response (the last writer in the chain). */
  responseEnded(): void {
    this.finish();
  }

  /** uWS onAborted: the client went away. Cancel upstream work and body sources. */
  clientAborted(): void {
    this.error ??= errors.clientGone;
    this.body?.fail(clientGoneError);
    this.abortUpstream?.(clientGoneError);
    this.replacement?.cancel();
    this.finish();
  }

  // ------------------------------------------------------------- upstream attempts

  /** Sends the request to `instance` (first attempt or a retry). */
  dispatchTo(instance: Instance): void {
    const route = this.route!;
    this.instance = instance;
    this.lastInstance = instance;
    this.triedInstances |= instance.bit;
    this.attempts++;
    this.abortUpstream = undefined;
    const options = this.dispatchOptions;
    options.path = this.query === '' ? route.upstreamPath(this.path) : `${route.upstreamPath(this.path)}?${this.query}`;
    options.method = this.method as Dispatcher.HttpMethod;
    if (this.nonAsciiHeaders) options.headers = wireHeaders(this.upstreamHeaders);
    options.headersTimeout = route.readTimeoutMs;
    options.bodyTimeout = route.readTimeoutMs;
    // A fresh iterator per attempt: the source survives an attempt that failed to connect.
    options.body = this.body ? (this.body.chunks() as unknown as Dispatcher.DispatchOptions['body']) : null;
    if (this.attempts === 1) {
      if (route.requestTimeoutMs !== undefined) this.deadline = setTimeout(onDeadline, route.requestTimeoutMs, this);
      if (this.generation.settings.timeUpstream) this.upstreamStartedAt = performance.now();
    }
    instance.requestStarted();
    // dispatch() returning false means the pool is saturated: the request is queued
    // (bounded by the pool's connection limit), so there is nothing more to do here.
    instance.dispatchers[route.connectSlot]!.dispatch(options, this);
  }

  // --- undici DispatchHandler -------------------------------------------------

  onConnect(abort: (reason?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.finished) abort(clientGoneError);
  }

  /**
   * Status and raw headers (`[name, value, ...]` as the upstream sent them, views
   * of the bytes read). Returning true: never pause here, see `onData`.
   */
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Interim responses (103 Early Hints, an unsolicited 1xx) are dropped: the client
    // gets the final one (RFC 9110 15.2 lets a proxy do either).
    if (statusCode < 200 || this.finished) return true;
    this.responseSource = ResponseSource.Upstream;
    this.upstreamStatus = statusCode;
    this.resumeUpstream = resume;
    const filters = this.route!.filters.responseHead;
    if (filters === undefined) {
      this.#startResponse(statusCode, statusText, rawHeaders, undefined);
      return true;
    }
    const head = new ResponseHead(statusCode, statusText, rawHeaders);
    this.head = head;
    runResponseHeadFilters(filters, this, head);
    if (this.finished) return true;
    this.#startResponse(head.status, head.statusText, undefined, head);
    const replacement = this.replacement;
    if (replacement !== undefined) {
      this.responseSource = ResponseSource.Served;
      replacement.start(this.writer);
    }
    return true;
  }

  /** A body chunk; returning false pauses the upstream until the client drains. */
  onData(chunk: Buffer): boolean {
    if (this.finished || this.replacement !== undefined) return true;
    if (this.writer.write(chunk)) return true;
    this.writer.onDrain = this.#drainBound ??= this.#resumeAfterDrain.bind(this);
    return false;
  }

  onComplete(): void {
    if (this.upstreamStartedAt !== 0) this.upstreamEndedAt = performance.now();
    this.#settleInstance(this.upstreamStatus >= 500 ? 'status_5xx' : 'success');
    if (this.finished || this.replacement !== undefined) return;
    this.writer.end();
  }

  onError(error: Error): void {
    if (this.upstreamStartedAt !== 0) this.upstreamEndedAt = performance.now();
    const kind = this.#deadlinePassed ? errors.deadline : this.finished ? errors.clientGone : fromUpstreamError(error);
    // undici refuses a 204/304 (or a HEAD answer) whose Content-Length it did not
    // read a body for, after the head was complete. The client's response is complete
    // too: nothing more belongs to it (RFC 9110 6.4.1). undici drops the connection.
    if (kind === errors.badResponse && this.responseSource === ResponseSource.Upstream && this.#hasNoBody()) {
      this.#settleInstance('success');
      if (!this.finished) this.writer.end();
      return;
    }
    this.#settleInstance(kind.outcome);
    if (this.finished) return;
    this.cause = error;
    if (this.responseSource !== ResponseSource.None) {
      // The head is decided. The sink turns this into a clean 502 if nothing went out
      // yet, and otherwise cuts the connection so the client sees a truncated response.
      this.error = kind;
      this.replacement?.cancel();
      this.writer.abort();
      return;
    }
    if (this.#mayRetry(kind)) {
      const next = this.route!.upstream!.select(this.balanceIp, this.lastInstance, this.triedInstances) ?? this.#retrySameInstance(kind);
      if (next) {
        // Dispatch from a fresh macrotask: undici reports the error before its client
        // has finished tearing the broken socket down, and a synchronous retry can be
        // written onto that same dead socket.
        setImmediate(retryDispatch, this, next);
        return;
      }
    }
    this.fail(kind, error);
  }

  // ------------------------------------------------------------- ending

  #deadlinePassed = false;

  deadlineExpired(): void {
    this.deadline = undefined;
    if (this.finished) return;
    this.#deadlinePassed = true;
    const abort = this.abortUpstream;
    if (this.responseSource === ResponseSource.None) this.fail(errors.deadline);
    abort?.(deadlineError);
  }

  /** The response has been handed to the sink in full (or cut): log, count, release. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.deadline) clearTimeout(this.deadline);
    const done = (this.route?.filters ?? this.generation.unroutedFilters).done;
    if (done !== undefined) for (let i = 0; i < done.length; i++) done[i]!.done!(this);
    this.owner.exchangeFinished(this);
    this.generation.release();
  }

  /** respond() once it is time to write (possibly from the next macrotask). */
  sendWhole(status: number, pairs: readonly string[] | EncodedHeaders, body: string | Buffer, statusText: string): void {
    if (this.finished) return;
    this.sink.respond(status, statusText, pairs, body);
    this.finish();
  }

  // ------------------------------------------------------------- internals

  #startResponse(status: number, statusText: string, raw: Buffer[] | undefined, head: ResponseHead | undefined): void {
    const sink = this.sink;
    sink.closeConnection ||= this.owner.draining || (this.connectionHeader !== undefined && asksToClose(this.connectionHeader));
    sink.startResponse(status, statusText, raw, head);
  }

  #hasNoBody(): boolean {
    const status = this.upstreamStatus;
    return status === 204 || status === 304 || this.method === 'HEAD';
  }

  #resumeAfterDrain(): void {
    this.resumeUpstream?.();
  }

  #settleInstance(outcome: Parameters<Instance['requestFinished']>[0]): void {
    const instance = this.instance;
    if (!instance) return;
    this.instance = undefined;
    instance.requestFinished(outcome);
  }

  /**
   * Caddy's rule: a failure to connect is always retried (nothing was sent), as long
   * as no body bytes were pulled; a broken connection is retried only for idempotent
   * requests whose body (if any) was not yet sent. Timeouts are not retried: the
   * upstream may still be working on the request.
   */
  #mayRetry(kind: ProxyError): boolean {
    if (this.body?.started || kind.retry === 'never') return false;
    const retries = this.route!.upstream!.spec.retries;
    if (kind.retry === 'always') return this.attempts <= retries;
    // A reset earns at least one retry, whatever `retries` says: see #retrySameInstance.
    return idempotentMethods.has(this.method) && this.attempts <= Math.max(1, retries);
  }

  /**
   * The most common production 502: the upstream closed an idle keep-alive
   * connection just as we reused it. With no other instance to try, one retry on
   * the same instance gets a fresh connection.
   */
  #retrySameInstance(kind: ProxyError): Instance | undefined {
    if (kind !== errors.reset || this.attempts > 1) return undefined;
    const last = this.lastInstance;
    return last && last.isAvailable() ? last : undefined;
  }
}

function runResponseHeadFilters(filters: readonly Filter[], x: Exchange, head: ResponseHead): void {
  for (let i = 0; i < filters.length; i++) {
    filters[i]!.responseHead!(x, head);
    if (x.finished) return;
  }
}
