/**
 * The uWS application: listens, hands HTTP requests to the proxy, and closes in
 * order on shutdown. Everything uWS-specific about listening lives here.
 *
 * @module
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { loadUws } from './uws.js';

export interface HttpHandler {
  handleRequest(res: import('uWebSockets.js').HttpResponse, req: import('uWebSockets.js').HttpRequest): void;
}

export class PortInUseError extends Error {
  readonly code = 'WD_ERR_LISTEN';
}

export interface IngressServer {
  readonly app: TemplatedApp;
  readonly port: number;
  /** Stops accepting new connections (existing ones keep being served). */
  stopListening(): void;
  /** Closes every remaining connection. */
  closeAll(): void;
}

/** Starts listening on `host:port` (port 0 = any free port). */
export function startIngress(host: string, port: number, handler: HttpHandler, configure?: (app: TemplatedApp) => void): Promise<IngressServer> {
  const uws = loadUws();
  const app = uws.App();
  configure?.(app);
  app.any('/*', (res, req) => handler.handleRequest(res, req));
  return new Promise((resolve, reject) => {
    // LIBUS_LISTEN_EXCLUSIVE_PORT: fail instead of sharing the port with another process (SO_REUSEPORT).
    // The native listen takes (host, port, options, cb); the typings only list (port, options, cb).
    (app.listen as unknown as (h: string, p: number, o: number, cb: (s: us_listen_socket | false) => void) => void)(host, port, (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (!socket) {
        reject(
          new PortInUseError(
            `cannot listen on ${host}:${port}: the port is in use or the address is not available on this machine. ` +
              `Stop the other process, or choose another port with [server] http_port or WARPDRIVE_HTTP_PORT.`,
          ),
        );
        return;
      }
      let listenSocket: us_listen_socket | undefined = socket;
      resolve({
        app,
        port: uws.us_socket_local_port(socket),
        stopListening: () => {
          if (listenSocket) uws.us_listen_socket_close(listenSocket);
          listenSocket = undefined;
        },
        closeAll: () => (app as unknown as { close?: () => void }).close?.(),
      });
    });
  });
}
