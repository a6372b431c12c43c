/**
 * The uWS application: listens, hands HTTP requests to the proxy, and closes in
 * order on shutdown. Everything uWS-specific about listening lives here.
 *
 * @module
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { lacksPrivilegeFor } from './privileged-port.js';
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

/**
 * `exclusive`: the port must be free, and nobody may share it afterwards (one
 * proxy thread). `shared`: SO_REUSEPORT, so that every proxy thread listens on
 * the same port and the kernel spreads new connections across them; only other
 * SO_REUSEPORT sockets of the same user can join, which is why the main thread
 * first reserves the port exclusively (`reservePort`).
 */
export type ListenMode = 'exclusive' | 'shared';

type NativeListen = (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => void;

function portInUse(host: string, port: number): PortInUseError {
  if (lacksPrivilegeFor(port)) {
    return new PortInUseError(
      `cannot listen on ${host}:${port}: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability, and this process has neither. ` +
        `Run it as a service with AmbientCapabilities=CAP_NET_BIND_SERVICE (packaging/warpdrive.service), or choose a port from 1024 up with [server] http_port or WARPDRIVE_HTTP_PORT.`,
    );
  }
  return new PortInUseError(
    `cannot listen on ${host}:${port}: the port is in use or the address is not available on this machine. ` +
      `Stop the other process, or choose another port with [server] http_port or WARPDRIVE_HTTP_PORT.`,
  );
}

function listenOptions(mode: ListenMode): number {
  // LIBUS_LISTEN_EXCLUSIVE_PORT turns off uSockets' default SO_REUSEPORT.
  return mode === 'exclusive' ? (loadUws() as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT : 0;
}

/**
 * Checks that `host:port` is free by listening on it exclusively, and closes that
 * socket again; returns the port (the one the kernel chose, for port 0). Several
 * proxy threads then listen on it with `shared`. Between the two, another
 * SO_REUSEPORT listener of the same user could take the port: a window of one
 * event-loop turn at start-up, against a port-in-use check that would otherwise
 * never fire for a second warpdrive.
 */
export function reservePort(host: string, port: number): Promise<number> {
  const uws = loadUws();
  const app = uws.App();
  return new Promise((resolve, reject) => {
    (app.listen as unknown as NativeListen)(host, port, listenOptions('exclusive'), (socket) => {
      if (!socket) return reject(portInUse(host, port));
      const chosen = uws.us_socket_local_port(socket);
      uws.us_listen_socket_close(socket);
      // The probe app has served its purpose; leave nothing of it behind.
      (app as unknown as { close?: () => void }).close?.();
      resolve(chosen);
    });
  });
}

/** Starts listening on `host:port` (port 0 = any free port). */
export function startIngress(
  host: string,
  port: number,
  handler: HttpHandler,
  configure?: (app: TemplatedApp) => void,
  mode: ListenMode = 'exclusive',
): Promise<IngressServer> {
  const uws = loadUws();
  const app = uws.App();
  configure?.(app);
  app.any('/*', (res, req) => handler.handleRequest(res, req));
  return new Promise((resolve, reject) => {
    // The native listen takes (host, port, options, cb); the typings only list (port, options, cb).
    (app.listen as unknown as NativeListen)(host, port, listenOptions(mode), (socket) => {
      if (!socket) {
        reject(portInUse(host, port));
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
