/**
 * The walk over a client's request headers that the HTTP proxy and the
 * WebSocket upgrade share: one `requestHeaderKind` lookup per header, and the
 * kinds both paths treat alike filed here, so forwarding, Host, X-Forwarded-*
 * and the admin token behave the same whichever way a request came in.
 *
 * @module
 */
import { RequestHeaderKind, requestHeaderKind } from './headers.js';

/** What both request paths keep of the client's headers while uWS walks them. */
export interface CollectedRequestHeaders {
  /** Headers to send upstream, flat [name, value, ...]: keeps repeats and order. */
  readonly upstreamHeaders: string[];
  /** The first Host value as sent; later ones only count (two Hosts are refused). */
  rawHost: string | undefined;
  hostCount: number;
  /** Repeats joined as one list (RFC 9110 5.3). */
  xForwardedFor: string | undefined;
  xForwardedProto: string | undefined;
  xForwardedHost: string | undefined;
  adminToken: string | undefined;
  /** Names, values and line overhead, for max_header_bytes. */
  headerBytes: number;
}

/**
 * Files one header (`name` arrives lowercased from uWS) and returns its kind.
 * The kinds it does not handle, framing, `Connection`, hop-by-hop, `Expect` and
 * the WebSocket handshake, are left to the caller: it acts on those it needs
 * and drops the rest.
 */
export function collectRequestHeader(target: CollectedRequestHeaders, name: string, value: string): RequestHeaderKind {
  target.headerBytes += name.length + value.length + 4;
  const kind = requestHeaderKind(name);
  switch (kind) {
    case RequestHeaderKind.Forward:
      target.upstreamHeaders.push(name, value);
      break;
    case RequestHeaderKind.Host:
      target.hostCount++;
      if (target.rawHost === undefined) {
        target.rawHost = value;
        target.upstreamHeaders.push(name, value);
      }
      break;
    case RequestHeaderKind.XForwardedFor:
      target.xForwardedFor = target.xForwardedFor === undefined ? value : `${target.xForwardedFor}, ${value}`;
      break;
    case RequestHeaderKind.XForwardedProto:
      target.xForwardedProto ??= value;
      break;
    case RequestHeaderKind.XForwardedHost:
      target.xForwardedHost ??= value;
      break;
    case RequestHeaderKind.AdminToken:
      target.adminToken ??= value;
      break;
    default:
      break;
  }
  return kind;
}
