/**
 * Turns what undici reports for a failed upstream request into a RequestOutcome,
 * the vocabulary of passive health and of the proxy's retry decision.
 *
 * - `connect_failure`: nothing reached the instance (refused, no such socket,
 *   connect timeout, unreachable). Always safe to retry elsewhere.
 * - `reset`: the connection broke after it was made (closed, reset, broken pipe).
 *   Safe to retry only if no response byte reached the client and the request is
 *   idempotent or its body was not sent; the proxy knows those facts, not us.
 * - `timeout`: the instance did not answer within the read timeout (504).
 * - `cancelled`: we (or the client) gave up; says nothing about the instance.
 *
 * @module
 */
import type { RequestOutcome } from './instance.js';

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
  'UND_ERR_CONNECT_TIMEOUT',
]);

const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const cancelCodes = new Set(['UND_ERR_ABORTED', 'UND_ERR_ABORT', 'ABORT_ERR', 'UND_ERR_DESTROYED', 'UND_ERR_CLOSED']);

/** The outcome of a request that ended with `error` (from a dispatch handler's onResponseError, or request()). */
export function classifyUpstreamError(error: unknown): RequestOutcome {
  const e = error as { code?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (connectCodes.has(code)) return 'connect_failure';
  if (timeoutCodes.has(code) || e?.name === 'TimeoutError') return 'timeout';
  if (cancelCodes.has(code) || e?.name === 'AbortError') return 'cancelled';
  // UND_ERR_SOCKET ("other side closed"), ECONNRESET, EPIPE, a malformed response: the connection broke.
  return 'reset';
}
