/**
 * The one error type of the request pipeline, and the one place that decides
 * what a failure means: which status the client gets, whether the request may
 * be retried, and what it says about the upstream instance.
 *
 * Modelled on Pingora's `Error` (a type, a source and a retry decision carried
 * as data) and Caddy's `statusError`: every phase reports a `ProxyError`, and
 * `Exchange` acts on its fields without knowing where it came from.
 *
 * Errors the pipeline raises itself (404, 401, 503...) carry nothing specific to
 * one request, so each kind is one frozen instance made at load time: refusing a
 * request allocates no Error (whose stack trace alone costs microseconds). An
 * upstream failure keeps undici's own error beside it (`Exchange.cause`) for the
 * log.
 *
 * @module
 */
import type { RequestOutcome } from '../upstream/index.js';

/**
 * Where a failure came from:
 * - `client`: the request itself is unusable (malformed, too large, refused);
 * - `connect`: no connection to the instance could be made: nothing was sent;
 * - `read`: the connection broke or the upstream's answer could not be read;
 * - `timeout`: the upstream (or the request deadline) took too long;
 * - `filter`: a filter answered or failed;
 * - `internal`: warpdrive's own fault.
 */
export type ErrorSource = 'client' | 'connect' | 'read' | 'timeout' | 'filter' | 'internal';

/**
 * Whether a failed attempt may be tried again (Caddy's conservative rule):
 * - `never`;
 * - `always`: nothing reached the upstream (a failed connect), as long as no
 *   request body byte was consumed;
 * - `idempotent`: the connection broke before any response byte, and the method is
 *   idempotent with no body byte sent.
 */
export type RetryDecision = 'never' | 'always' | 'idempotent';

export class ProxyError extends Error {
  /** Stable, prefixed code (WD_ERR_*), what the CLI and logs key on. */
  readonly code: string;
  readonly source: ErrorSource;
  /** The status the client gets when nothing has been sent yet. */
  readonly status: number;
  readonly retry: RetryDecision;
  /** What the failure says about the instance (passive health); `cancelled` says nothing. */
  readonly outcome: RequestOutcome;

  constructor(code: string, source: ErrorSource, status: number, retry: RetryDecision, outcome: RequestOutcome, message: string) {
    super(message);
    this.name = 'ProxyError';
    this.code = code;
    this.source = source;
    this.status = status;
    this.retry = retry;
    this.outcome = outcome;
  }
}

function kind(code: string, source: ErrorSource, status: number, message: string, retry: RetryDecision = 'never', outcome: RequestOutcome = 'cancelled'): ProxyError {
  return Object.freeze(new ProxyError(code, source, status, retry, outcome, message));
}

/** Every failure the pipeline knows, one frozen instance each. */
export const errors = {
  badRequest: kind('WD_ERR_BAD_REQUEST', 'client', 400, 'malformed request'),
  badHost: kind('WD_ERR_BAD_HOST', 'client', 400, 'invalid or repeated Host header'),
  badPath: kind('WD_ERR_BAD_PATH', 'client', 400, 'invalid request target'),
  ambiguousFraming: kind('WD_ERR_FRAMING', 'client', 400, 'ambiguous request framing (Content-Length / Transfer-Encoding)'),
  repeatedAdminToken: kind('WD_ERR_ADMIN_TOKEN_REPEATED', 'client', 400, 'more than one X-Admin-Token header'),
  /** undici refused what the client sent before any byte reached an upstream (a header value it will not write). */
  unsendable: kind('WD_ERR_UNSENDABLE_REQUEST', 'client', 400, 'the request cannot be forwarded as sent'),
  unauthorized: kind('WD_ERR_UNAUTHORIZED', 'filter', 401, 'X-Admin-Token missing or wrong'),
  noRoute: kind('WD_ERR_NO_ROUTE', 'client', 404, 'no route matches the request'),
  bodyTooLarge: kind('WD_ERR_BODY_TOO_LARGE', 'client', 413, 'request body over server.max_body_bytes'),
  headersTooLarge: kind('WD_ERR_HEADERS_TOO_LARGE', 'client', 431, 'request headers over server.max_header_bytes'),
  methodNotImplemented: kind('WD_ERR_METHOD', 'client', 501, 'CONNECT and TRACE are not proxied'),
  noInstance: kind('WD_ERR_NO_INSTANCE', 'connect', 503, 'no upstream instance is available'),
  shuttingDown: kind('WD_ERR_SHUTTING_DOWN', 'internal', 503, 'server shutting down'),
  connectFailed: kind('WD_ERR_UPSTREAM_CONNECT', 'connect', 502, 'could not connect to the upstream', 'always', 'connect_failure'),
  connectTimeout: kind('WD_ERR_UPSTREAM_CONNECT_TIMEOUT', 'connect', 504, 'connecting to the upstream timed out', 'always', 'connect_failure'),
  reset: kind('WD_ERR_UPSTREAM_RESET', 'read', 502, 'the upstream connection broke', 'idempotent', 'reset'),
  badResponse: kind('WD_ERR_UPSTREAM_PROTOCOL', 'read', 502, 'the upstream sent a response that cannot be relayed', 'never', 'reset'),
  readTimeout: kind('WD_ERR_UPSTREAM_TIMEOUT', 'timeout', 504, 'the upstream did not answer in time', 'never', 'timeout'),
  deadline: kind('WD_ERR_DEADLINE', 'timeout', 504, 'request_timeout_secs passed', 'never', 'timeout'),
  clientGone: kind('WD_ERR_CLIENT_GONE', 'client', 499, 'the client closed the connection', 'never', 'cancelled'),
  internal: kind('WD_ERR_INTERNAL', 'internal', 500, 'internal error'),
} as const;

/** Error codes from net/undici that mean the connection was never established. */
const connectCodes = new Set([
  'ECONNREFUSED',
  'ENOENT', // Unix socket file missing: the process is not listening (yet)
  'EACCES',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * The ProxyError for what undici reported on a dispatch. `cancelled` is decided by
 * the caller (an abort it caused itself), since undici reports those like any error.
 */
export function fromUpstreamError(error: unknown): ProxyError {
  const e = error as { code?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return errors.connectTimeout;
  if (connectCodes.has(code)) return errors.connectFailed;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || e?.name === 'TimeoutError') return errors.readTimeout;
  // Thrown by undici's request validation before anything is written: a header value
  // or target it will not send. Only the client's input can cause that (ours is checked
  // when the config loads), so it is the client's 400, and says nothing about the instance.
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return errors.unsendable;
  // llhttp refusing the upstream's bytes, or a body shorter/longer than declared.
  if (code === 'HPE_INVALID_CHUNK_SIZE' || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return errors.badResponse;
  }
  // An abort we (or the client) caused: says nothing about the instance. The Exchange
  // knows its own aborts first; this covers other callers of the upstream pools.
  if (code === 'UND_ERR_ABORTED' || code === 'UND_ERR_ABORT' || code === 'ABORT_ERR' || e?.name === 'AbortError') return errors.clientGone;
  // UND_ERR_SOCKET ("other side closed"), ECONNRESET, EPIPE: the connection broke.
  return errors.reset;
}

/** Short bodies for the statuses warpdrive itself produces. */
export const statusBodies: Readonly<Record<number, string>> = {
  400: 'Bad Request\n',
  401: 'Unauthorized\n',
  404: 'Not Found\n',
  413: 'Payload Too Large\n',
  431: 'Request Header Fields Too Large\n',
  499: 'Client Closed Request\n',
  500: 'Internal Server Error\n',
  501: 'Not Implemented\n',
  502: 'Bad Gateway\n',
  503: 'Service Unavailable\n',
  504: 'Gateway Timeout\n',
};
