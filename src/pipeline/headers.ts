/**
 * Header rules of the proxy, decided once per header name.
 *
 * Request headers are sorted into kinds by one Map lookup each while uWS walks
 * them (`forEach`), so the hot path never compares a name twice. Hop-by-hop
 * headers (RFC 9110 section 7.6.1) are dropped in both directions, as are the
 * framing headers that each side of warpdrive writes for itself.
 *
 * @module
 */

export const enum RequestHeaderKind {
  Forward,
  Host,
  ContentLength,
  TransferEncoding,
  /** `Connection`: hop-by-hop, and may name more hop-by-hop headers. */
  Connection,
  /** Always hop-by-hop: dropped. */
  HopByHop,
  /** `Expect: 100-continue` is answered by uWS itself; undici refuses to send `Expect`. */
  Expect,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  /** warpdrive's own credential for `require_auth` routes; never forwarded. */
  AdminToken,
  /**
   * `Sec-WebSocket-Key/-Version/-Extensions/-Protocol`: the client's hop of a
   * WebSocket handshake (the upstream handshake gets its own); forwarded as any
   * other header on a plain HTTP request.
   */
  WebSocketHandshake,
  /**
   * `X-Sendfile-Type`, `X-Accel-Mapping`: how the app should name files for X-Sendfile
   * (Rack::Sendfile reads them). Only warpdrive may say that (src/filters/x-sendfile.ts,
   * when it is on): from a client they would make the app answer with internal paths.
   * Dropped.
   */
  SendfileControl,
}

const requestKinds = new Map<string, RequestHeaderKind>([
  ['host', RequestHeaderKind.Host],
  ['content-length', RequestHeaderKind.ContentLength],
  ['transfer-encoding', RequestHeaderKind.TransferEncoding],
  ['connection', RequestHeaderKind.Connection],
  ['keep-alive', RequestHeaderKind.HopByHop],
  ['proxy-connection', RequestHeaderKind.HopByHop],
  ['te', RequestHeaderKind.HopByHop],
  ['trailer', RequestHeaderKind.HopByHop],
  ['upgrade', RequestHeaderKind.HopByHop],
  ['expect', RequestHeaderKind.Expect],
  ['x-forwarded-for', RequestHeaderKind.XForwardedFor],
  ['x-forwarded-proto', RequestHeaderKind.XForwardedProto],
  ['x-forwarded-host', RequestHeaderKind.XForwardedHost],
  ['x-admin-token', RequestHeaderKind.AdminToken],
  ['sec-websocket-key', RequestHeaderKind.WebSocketHandshake],
  ['sec-websocket-version', RequestHeaderKind.WebSocketHandshake],
  ['sec-websocket-extensions', RequestHeaderKind.WebSocketHandshake],
  ['sec-websocket-protocol', RequestHeaderKind.WebSocketHandshake],
  ['x-sendfile-type', RequestHeaderKind.SendfileControl],
  ['x-accel-mapping', RequestHeaderKind.SendfileControl],
]);

/** The kind of a request header; `name` arrives lowercased from uWS. */
export function requestHeaderKind(name: string): RequestHeaderKind {
  return requestKinds.get(name) ?? RequestHeaderKind.Forward;
}

/**
 * Response headers never copied to the client: hop-by-hop ones, and the framing
 * and date headers uWS writes itself (copying them would duplicate them).
 */
export const droppedResponseHeaders: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'date',
]);

/** What the proxy does with one response header on its way to the client. */
export const enum ResponseHeaderAction {
  Forward,
  /** One of `droppedResponseHeaders`. */
  Drop,
  /** Dropped too (uWS writes its own), but its value frames the body. */
  ContentLength,
  /** Dropped, and may name more headers to drop (RFC 9110 7.6.1). */
  Connection,
}

/**
 * The droppedResponseHeaders as lowercase names grouped by length, so that a raw
 * name of any other length (nearly all of them) is decided by one array lookup.
 */
const droppedByLength: ReadonlyArray<readonly string[] | undefined> = (() => {
  const table: string[][] = [];
  for (const name of droppedResponseHeaders) (table[name.length] ??= []).push(name);
  return table;
})();

/**
 * Decides a response header by its raw name bytes as the upstream sent them
 * (any case), without making a string of it.
 */
export function responseHeaderAction(name: Uint8Array): ResponseHeaderAction {
  const candidates = droppedByLength[name.length];
  if (candidates === undefined) return ResponseHeaderAction.Forward;
  for (let c = 0; c < candidates.length; c++) {
    const candidate = candidates[c]!;
    let i = 0;
    // `| 0x20` lowercases ASCII letters; llhttp admits only token characters in a
    // name, and no token character other than the letter itself maps onto a
    // lowercase letter or '-' that way.
    while (i < name.length && (name[i]! | 0x20) === candidate.charCodeAt(i)) i++;
    if (i === name.length) {
      if (candidate === 'content-length') return ResponseHeaderAction.ContentLength;
      return candidate === 'connection' ? ResponseHeaderAction.Connection : ResponseHeaderAction.Drop;
    }
  }
  return ResponseHeaderAction.Forward;
}

/** The value of a decimal header such as Content-Length from its raw bytes; -1 when it is not one. */
export function decimalValue(bytes: Uint8Array): number {
  if (bytes.length === 0 || bytes.length > 15) return -1;
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The header names a `Connection` value lists, lowercased, minus the ones that
 * are only connection options (`close`, `keep-alive`), so the common values cost
 * nothing further.
 */
export function connectionTokens(value: string): string[] {
  const tokens: string[] = [];
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token !== '' && token !== 'close' && token !== 'keep-alive') tokens.push(token);
  }
  return tokens;
}

/** True when a `Connection` header value contains the `close` option. */
export function asksToClose(value: string): boolean {
  // The common values are exactly "close" or "keep-alive": compare before tokenising.
  if (value === 'close' || value === 'Close') return true;
  if (value === 'keep-alive' || value === 'Keep-Alive') return false;
  return value.split(',').some((token) => token.trim().toLowerCase() === 'close');
}

/** True when `value` is a Content-Length: one or more digits, nothing else. */
export function isValidContentLength(value: string): boolean {
  if (value.length === 0 || value.length > 15) return false; // 15 digits: far past any body we accept
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * A header value as undici (and node:http, under ws) should write it: they write a
 * JS string's characters as Latin-1 bytes and refuse characters above U+00FF, so a
 * value holding other characters goes as the string whose characters are its UTF-8
 * bytes. ASCII values are returned as they are.
 */
export function wireHeaderValue(value: string): string {
  return Buffer.byteLength(value) === value.length ? value : Buffer.from(value, 'utf8').toString('latin1');
}

/** A copy of a flat [name, value, ...] list with every value in its wire form (names are ASCII tokens). */
export function wireHeaders(headers: readonly string[]): string[] {
  const wire = headers.slice();
  for (let i = 1; i < wire.length; i += 2) wire[i] = wireHeaderValue(wire[i]!);
  return wire;
}

/**
 * Response header lines that are already filtered (no hop-by-hop, no Date or
 * Content-Length: uWS writes those) and encoded once, as a cache entry's are:
 * the response sink writes them as bytes, with no per-response check and no
 * UTF-8 conversion of strings by V8. Values are the bytes the upstream sent
 * (latin1 maps header bytes one to one onto string code units and back).
 */
export class EncodedHeaders {
  readonly bytes: readonly Buffer[];

  constructor(pairs: readonly string[]) {
    this.bytes = pairs.map((text) => Buffer.from(text, 'latin1'));
  }
}
