/**
 * What warpdrive keeps of a client's WebSocket upgrade request.
 *
 * uWS's `HttpRequest` is valid only inside the `upgrade` callback, while the
 * upstream handshake finishes later, so everything needed afterwards (headers
 * to forward, the client's handshake fields) is copied here first, in one
 * `forEach` walk sorted by the proxy's header rules.
 *
 * @module
 */
import type { HttpRequest } from 'uWebSockets.js';
import { RequestHeaderKind } from '../proxy/headers.js';
import type { CollectedRequestHeaders } from '../proxy/request-headers.js';
import { collectRequestHeader } from '../proxy/request-headers.js';

export class UpgradeRequest implements CollectedRequestHeaders {
  /** Headers to send upstream, flat [name, value, ...] like the HTTP proxy's Session. */
  readonly upstreamHeaders: string[] = [];
  rawPath = '';
  query = '';
  clientIp = '';
  rawHost: string | undefined = undefined;
  hostCount = 0;
  xForwardedFor: string | undefined = undefined;
  xForwardedProto: string | undefined = undefined;
  xForwardedHost: string | undefined = undefined;
  adminToken: string | undefined = undefined;
  headerBytes = 0;
  /** The client's handshake: echoed to uWS's `res.upgrade` once the upstream accepted. */
  secWebSocketKey = '';
  secWebSocketExtensions = '';
  /** Subprotocols the client offered, as sent (comma-separated); '' for none. */
  secWebSocketProtocol = '';

  /** HeaderLookup for the router: first value of a lowercase header name. */
  get(lowerCaseName: string): string | undefined {
    const headers = this.upstreamHeaders;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === lowerCaseName) return headers[i + 1];
    return undefined;
  }

  /** Copies everything from `req`; call synchronously inside uWS's upgrade callback. */
  static capture(req: HttpRequest): UpgradeRequest {
    const request = new UpgradeRequest();
    request.rawPath = req.getUrl();
    request.query = req.getQuery() ?? '';
    collecting = request;
    req.forEach(collectHeader);
    return request;
  }
}

// forEach target set right before the synchronous walk, so no closure is made per upgrade (same trick as proxy.ts).
let collecting: UpgradeRequest;
function collectHeader(name: string, value: string): void {
  const request = collecting;
  // Framing (a GET upgrade has no body), Connection/Upgrade and other hop-by-hop
  // headers are dropped: the upstream handshake writes its own.
  if (collectRequestHeader(request, name, value) !== RequestHeaderKind.WebSocketHandshake) return;
  if (name === 'sec-websocket-key') request.secWebSocketKey = value;
  else if (name === 'sec-websocket-extensions') request.secWebSocketExtensions = value;
  else if (name === 'sec-websocket-protocol') {
    // Repeated headers are one comma-separated list (RFC 9110 5.3).
    request.secWebSocketProtocol = request.secWebSocketProtocol === '' ? value : `${request.secWebSocketProtocol}, ${value}`;
  }
  // sec-websocket-version: the upstream handshake sends its own.
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
