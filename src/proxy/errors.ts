/**
 * What the client is told when warpdrive cannot proxy a request.
 *
 * The upstream module classifies an undici failure into a RequestOutcome (the
 * vocabulary of passive health and retries); `failureStatus` maps that outcome to
 * the one status the client sees, as Caddy's statusError and Pingora's
 * fail_to_proxy do: 502 for a broken upstream, 504 for a slow one.
 *
 * @module
 */
import type { RequestOutcome } from '../upstream/index.js';

/** 504 for anything that timed out (connect or read), else 502. */
export function failureStatus(outcome: RequestOutcome, error: unknown): number {
  if (outcome === 'timeout') return 504;
  if ((error as { code?: unknown } | null)?.code === 'UND_ERR_CONNECT_TIMEOUT') return 504;
  return 502;
}

/** Short bodies for the statuses warpdrive itself produces. */
export const statusBodies: Readonly<Record<number, string>> = {
  400: 'Bad Request\n',
  401: 'Unauthorized\n',
  404: 'Not Found\n',
  413: 'Payload Too Large\n',
  431: 'Request Header Fields Too Large\n',
  500: 'Internal Server Error\n',
  501: 'Not Implemented\n',
  502: 'Bad Gateway\n',
  503: 'Service Unavailable\n',
  504: 'Gateway Timeout\n',
};

/** `"502 Bad Gateway"`-style status lines for the same statuses, built once. */
export const statusLines: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(statusBodies).map(([status, body]) => [status, `${status} ${body.trim()}`]),
);
