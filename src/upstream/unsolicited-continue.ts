/**
 * Lets an upstream send `100 Continue` that nobody asked for.
 *
 * RFC 9110 15.2: a client must be able to parse an interim (1xx) response it did
 * not expect, and ignore it. undici 7's HTTP/1.1 client does so for 102 and 103,
 * but treats a 100 as a broken connection: `Parser.onHeadersComplete` in
 * `lib/dispatcher/client-h1.js` destroys the socket (`SocketError('bad response')`)
 * when `statusCode === 100`, because undici never sends `Expect: 100-continue` over
 * HTTP/1.1 and so never expects one. Some application servers send one anyway
 * (Puma-style servers configured to always answer `100 Continue` first, some Java
 * and PHP stacks behind an old proxy), and with undici alone every request to them
 * would get a 502 and count against the instance until it is ejected.
 *
 * The fix is per connection and contained here: the pool's `connect` function
 * (the documented hook for making undici's sockets) wraps undici's own connector;
 * once undici has attached its llhttp parser to a new socket (synchronously, inside
 * the connect callback), that one parser object gets its own `onHeadersComplete`,
 * which hands undici's original any 100 as `102 Processing`, a status undici
 * already treats as an interim response: the parser goes on to the final response
 * on the same connection, which stays usable. llhttp itself has already framed the
 * 100 (no body) by its real status; only undici's JavaScript bookkeeping sees 102.
 * The Exchange drops every interim response anyway (it relays the final one), so
 * the client never sees either.
 *
 * What this relies on in undici (pinned to 7.x for other reasons, see
 * src/pipeline/exchange.ts): the socket holds its parser under a symbol described
 * `parser`, set before the connect callback returns, with an `onHeadersComplete`
 * method that llhttp's callbacks call on the instance. If a future undici changes
 * any of that, `attach` finds nothing to wrap, logs it once, and a 100 is back to a
 * 502 that is never retried (errors.ts); test/upstream/unsolicited-continue.test.ts
 * turns red in either case, and also when undici starts handling the 100 itself
 * (then this module can go).
 *
 * Cost: one symbol lookup and one property write per new upstream connection;
 * nothing per request.
 *
 * @module
 */
import { buildConnector } from 'undici';
import { createLogger } from '../log.js';

const log = createLogger('upstream');

/** What undici's original `onHeadersComplete` is told instead of 100. */
const INTERIM_STAND_IN = 102;

type OnHeadersComplete = (this: unknown, statusCode: number, upgrade: boolean, shouldKeepAlive: boolean) => number;

let parserSymbol: symbol | undefined;
let originalOnHeadersComplete: OnHeadersComplete | undefined;
/** Connections whose parser was found and wrapped, and those where it was not (undici changed). */
export const continueTolerance = { attached: 0, missed: 0 };

/** The replacement, shared by every wrapped parser (no closure per connection). */
function onHeadersCompleteToleratingContinue(this: unknown, statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number {
  return originalOnHeadersComplete!.call(this, statusCode === 100 ? INTERIM_STAND_IN : statusCode, upgrade, shouldKeepAlive);
}

/** Finds undici's parser on a freshly connected socket and wraps its `onHeadersComplete`; false when it is not there. */
function attach(socket: object): boolean {
  parserSymbol ??= Object.getOwnPropertySymbols(socket).find((s) => s.description === 'parser');
  const parser = parserSymbol === undefined ? undefined : (socket as Record<symbol, unknown>)[parserSymbol];
  if (parser === null || typeof parser !== 'object') return false;
  const method = (parser as { onHeadersComplete?: unknown }).onHeadersComplete;
  if (typeof method !== 'function') return false;
  if (method === onHeadersCompleteToleratingContinue) return true;
  originalOnHeadersComplete ??= method as OnHeadersComplete;
  if (method !== originalOnHeadersComplete) return false; // not the function we know how to wrap
  (parser as { onHeadersComplete: unknown }).onHeadersComplete = onHeadersCompleteToleratingContinue;
  return true;
}

/**
 * undici's connector for `options` (what a Pool builds from its `connect` object),
 * wrapped so that every HTTP/1.1 connection it makes tolerates an unsolicited 100.
 */
export function continueTolerantConnector(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options);
  return function connectToleratingContinue(opts, callback) {
    connect(opts, (...args: Parameters<buildConnector.Callback>) => {
      // undici's client attaches its parser to the socket inside this callback (connectH1).
      callback(...args);
      const socket = args[1];
      if (args[0] != null || socket == null || socket.destroyed) return; // a failed connect passes the error alone
      if (attach(socket)) {
        continueTolerance.attached++;
        return;
      }
      if (continueTolerance.missed++ === 0) {
        log.warn("cannot find undici's HTTP/1.1 parser on an upstream connection (undici changed?): an upstream's unsolicited 100 Continue will be answered 502");
      }
    });
  };
}
