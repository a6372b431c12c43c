/**
 * Request headers warpdrive adds on the way upstream, shared by the HTTP proxy
 * and the WebSocket bridge so both forward exactly the same way.
 *
 * @module
 */
import type { ProxyRoute } from './route.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** What the forwarded headers are built from; Session and the WebSocket upgrade both carry these. */
export interface ForwardedSource {
  readonly clientIp: string;
  readonly rawHost: string | undefined;
  readonly xForwardedFor: string | undefined;
  readonly xForwardedProto: string | undefined;
  readonly xForwardedHost: string | undefined;
}

/**
 * X-Forwarded-For/-Proto/-Host onto `headers` (flat name/value pairs). From a
 * trusted peer the incoming chain is kept and the peer appended (nginx's
 * `$proxy_add_x_forwarded_for`); from anyone else the incoming values are
 * replaced, so a client cannot forge its address. With forward_headers off,
 * incoming values pass through untouched.
 */
export function addForwardedHeaders(headers: string[], source: ForwardedSource, forwardHeaders: boolean, trustedProxies: TrustedProxies): void {
  if (!forwardHeaders) {
    if (source.xForwardedFor !== undefined) headers.push('x-forwarded-for', source.xForwardedFor);
    if (source.xForwardedProto !== undefined) headers.push('x-forwarded-proto', source.xForwardedProto);
    if (source.xForwardedHost !== undefined) headers.push('x-forwarded-host', source.xForwardedHost);
    return;
  }
  const trusted = source.xForwardedFor !== undefined || source.xForwardedProto !== undefined || source.xForwardedHost !== undefined
    ? trustedProxies.isTrusted(source.clientIp)
    : false;
  if (trusted) {
    headers.push('x-forwarded-for', source.xForwardedFor === undefined ? source.clientIp : `${source.xForwardedFor}, ${source.clientIp}`);
    headers.push('x-forwarded-proto', source.xForwardedProto ?? 'http');
    headers.push('x-forwarded-host', source.xForwardedHost ?? source.rawHost ?? '');
  } else {
    headers.push('x-forwarded-for', source.clientIp);
    headers.push('x-forwarded-proto', 'http');
    headers.push('x-forwarded-host', source.rawHost ?? '');
  }
}

/** `add_headers` of the route replace any header of the same name (call only when route.replacedHeaderNames is set). */
export function applyRouteHeaders(headers: string[], route: ProxyRoute): void {
  const names = route.replacedHeaderNames!;
  let write = 0;
  for (let read = 0; read < headers.length; read += 2) {
    if (names.has(headers[read]!)) continue;
    headers[write++] = headers[read]!;
    headers[write++] = headers[read + 1]!;
  }
  headers.length = write;
  for (const { name, value } of route.addHeaders) headers.push(name.toLowerCase(), value);
}
