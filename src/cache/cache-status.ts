/**
 * The Cache-Status response header (RFC 9211): what warpdrive's cache did with
 * a request, as one list member named `warpdrive`.
 *
 *   warpdrive; hit; ttl=42                       fresh, from memory
 *   warpdrive; hit; ttl=42; detail=redis         fresh, from the Redis tier
 *   warpdrive; hit; ttl=-3                       stale, served while revalidating (stale-while-revalidate)
 *   warpdrive; fwd=stale; fwd-status=304; ttl=60 stale, revalidated with the upstream
 *   warpdrive; fwd=stale; fwd-status=503; ttl=-9 stale, served because the upstream failed (stale-if-error)
 *   warpdrive; fwd=uri-miss; fwd-status=200; stored
 *   warpdrive; fwd=uri-miss; fwd-status=200; detail=private     not stored, and why
 *   warpdrive; fwd=uri-miss; collapsed; ...      waited for a concurrent miss of the same URL
 *   warpdrive; fwd=method                        an unsafe method, sent on (and invalidating)
 *   warpdrive; fwd=bypass; detail=range          a request the cache does not answer
 *
 * @module
 */

export const CACHE_STATUS = 'Cache-Status';
const NAME = 'warpdrive';

/** How the request reached (or did not reach) the upstream: RFC 9211 2.2 `fwd` values. */
export type Forward = 'uri-miss' | 'vary-miss' | 'stale' | 'method' | 'bypass' | 'request';

export function hitStatus(ttlSeconds: number, fromRedis: boolean): string {
  return fromRedis ? `${NAME}; hit; ttl=${ttlSeconds}; detail=redis` : `${NAME}; hit; ttl=${ttlSeconds}`;
}

export interface ForwardOutcome {
  readonly fwd: Forward;
  readonly fwdStatus?: number | undefined;
  readonly stored?: boolean | undefined;
  readonly collapsed?: boolean | undefined;
  readonly ttlSeconds?: number | undefined;
  /** A token: why the response was not stored, or why the cache was bypassed. */
  readonly detail?: string | undefined;
}

export function forwardStatus(outcome: ForwardOutcome): string {
  let value = `${NAME}; fwd=${outcome.fwd}`;
  if (outcome.fwdStatus !== undefined) value += `; fwd-status=${outcome.fwdStatus}`;
  if (outcome.ttlSeconds !== undefined) value += `; ttl=${outcome.ttlSeconds}`;
  if (outcome.stored === true) value += '; stored';
  if (outcome.collapsed === true) value += '; collapsed';
  if (outcome.detail !== undefined) value += `; detail=${outcome.detail}`;
  return value;
}
