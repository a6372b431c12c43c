/**
 * Ingress capture: everything the pipeline needs from uWS's `HttpRequest`, copied
 * into the Exchange while the request is valid (only during uWS's callback). One
 * walk over the headers serves plain requests and WebSocket upgrades alike, with
 * one `requestHeaderKind` lookup per header, so forwarding, Host, X-Forwarded-*
 * and the admin token behave the same whichever way a request came in.
 *
 * @module
 */
import type { HttpRequest } from 'uWebSockets.js';
import type { Exchange } from './exchange.js';
import { RequestHeaderKind, isValidContentLength, requestHeaderKind } from './headers.js';

/** uWS reports methods lowercased; these are the uppercase forms, interned once. */
const upperMethods = new Map<string, string>(
  ['get', 'head', 'post', 'put', 'delete', 'patch', 'options', 'trace', 'connect'].map((m) => [m, m.toUpperCase()]),
);

/** The request method in upper case, without allocating for the usual ones. */
export function captureMethod(req: HttpRequest): string {
  const lower = req.getMethod();
  return upperMethods.get(lower) ?? lower.toUpperCase();
}

// forEach targets: set right before the synchronous req.forEach(collectHeader), so
// that walking the headers allocates no closure per request.
let target: Exchange;
let forUpgrade = false;
let passForwarded = false;

/**
 * Walks `req`'s headers into `into`. `upgrade`: keep the client's WebSocket handshake
 * apart (the upstream handshake writes its own). `forwardAsIs`: X-Forwarded-* go
 * upstream as received (forward_headers = false); they are recorded either way.
 */
export function captureHeaders(req: HttpRequest, into: Exchange, upgrade: boolean, forwardAsIs: boolean): void {
  target = into;
  forUpgrade = upgrade;
  passForwarded = forwardAsIs;
  req.forEach(collectHeader);
}

function collectHeader(name: string, value: string): void {
  const into = target;
  into.headerBytes += name.length + value.length + 4;
  switch (requestHeaderKind(name)) {
    case RequestHeaderKind.Forward:
      into.upstreamHeaders.push(name, value);
      return;
    case RequestHeaderKind.Host:
      into.hostCount++;
      if (into.rawHost === undefined) {
        into.rawHost = value;
        into.upstreamHeaders.push(name, value);
      }
      return;
    case RequestHeaderKind.XForwardedFor:
      into.xForwardedFor = into.xForwardedFor === undefined ? value : `${into.xForwardedFor}, ${value}`;
      if (passForwarded) into.upstreamHeaders.push(name, value);
      return;
    case RequestHeaderKind.XForwardedProto:
      into.xForwardedProto ??= value;
      if (passForwarded) into.upstreamHeaders.push(name, value);
      return;
    case RequestHeaderKind.XForwardedHost:
      into.xForwardedHost ??= value;
      if (passForwarded) into.upstreamHeaders.push(name, value);
      return;
    case RequestHeaderKind.AdminToken:
      into.adminTokenCount++;
      into.adminToken ??= value;
      return;
    case RequestHeaderKind.ContentLength:
      // Repeats are tolerated only when identical (RFC 9112 6.3); anything else is ambiguous.
      if (!isValidContentLength(value) || (into.contentLength !== undefined && into.contentLength !== value)) {
        into.framingError = true;
      } else if (into.contentLength === undefined) {
        into.contentLength = value;
        into.upstreamHeaders.push(name, value);
      }
      return;
    case RequestHeaderKind.TransferEncoding:
      // Only a single, plain "chunked" is unambiguous; uWS itself accepts "gzip, chunked" and repeats.
      if (into.transferEncoding !== undefined || value.toLowerCase() !== 'chunked') into.framingError = true;
      into.transferEncoding = value;
      return;
    case RequestHeaderKind.Connection:
      into.connectionHeader = into.connectionHeader === undefined ? value : `${into.connectionHeader},${value}`;
      return;
    case RequestHeaderKind.WebSocketHandshake:
      if (!forUpgrade) {
        // Not an upgrade: an ordinary header.
        into.upstreamHeaders.push(name, value);
      } else if (name === 'sec-websocket-key') {
        into.secWebSocketKey = value;
      } else if (name === 'sec-websocket-extensions') {
        into.secWebSocketExtensions = value;
      } else if (name === 'sec-websocket-protocol') {
        // Repeated headers are one comma-separated list (RFC 9110 5.3).
        into.secWebSocketProtocol = into.secWebSocketProtocol === '' ? value : `${into.secWebSocketProtocol}, ${value}`;
      }
      // sec-websocket-version: the upstream handshake sends its own.
      return;
    default:
      // Hop-by-hop, Expect (uWS answers `Expect: 100-continue` itself) and SendfileControl: dropped.
      return;
  }
}
