/**
 * The HTTPS listener of one proxy thread: a uWS `SSLApp` with one SNI entry per
 * certificate name, on `server.https_port`.
 *
 * This uWS build cannot replace a certificate in place (`removeServerName` frees
 * the router that open connections still use: native-notes/tls.md), so a change
 * of certificates builds a new SSLApp, listens on the same port (SO_REUSEPORT)
 * and closes the previous app's listening socket only. Connections it accepted
 * keep their certificate and are served until they end; WebSockets stay open.
 * A name with no certificate gets a handshake failure (alert 40): the default
 * context has none, so no client is ever shown a certificate for another name.
 *
 * TLS 1.2 and 1.3 only (TLS 1.2 is this build's fixed minimum); the TLS 1.2
 * ciphers are ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla's "intermediate"
 * list without DHE, which BoringSSL lacks); TLS 1.3 uses BoringSSL's fixed suites.
 * No ALPN is negotiated (this build cannot), which clients read as HTTP/1.1.
 *
 * @module
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { InstalledCertificate } from '../tls/live-files.js';
import { loadUws } from './uws.js';

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface SecureHandlers {
  handleSecureRequest(res: HttpResponse, req: HttpRequest): void;
  /** Registers WebSocket behaviour (`app.ws('/*')`) on the router currently selected. */
  registerSecureWebSockets(app: TemplatedApp): void;
}

export class TlsListenError extends Error {
  readonly code = 'WD_ERR_LISTEN';
}

type NativeListen = (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => void;

interface Listener {
  readonly app: TemplatedApp;
  socket: us_listen_socket | undefined;
}

/** Builds an SSLApp serving `certificates`, handlers registered under each name. */
function buildApp(certificates: readonly InstalledCertificate[], handlers: SecureHandlers): TemplatedApp {
  const uws = loadUws();
  const app = uws.SSLApp({ ssl_ciphers: TLS12_CIPHERS });
  const onRequest = (res: HttpResponse, req: HttpRequest): void => handlers.handleSecureRequest(res, req);
  for (const certificate of certificates) {
    for (const name of certificate.names) {
      // Each SNI context has its own cipher list and its own router (native-notes/tls.md).
      app.addServerName(name, { key_file_name: certificate.keyFile, cert_file_name: certificate.certFile, ssl_ciphers: TLS12_CIPHERS });
      const domain = app.domain(name);
      domain.any('/*', onRequest);
      handlers.registerSecureWebSockets(domain);
    }
  }
  return app;
}

function listen(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    // Always shared (SO_REUSEPORT): the next generation of this listener joins the same port.
    (app.listen as unknown as NativeListen)(host, port, 0, (socket) => {
      if (socket) resolve(socket);
      else reject(new TlsListenError(`cannot listen for HTTPS on ${host}:${port}: the port is in use or the address is not available; fix: stop the other process or choose another [server] https_port`));
    });
  });
}

export class TlsServer {
  readonly port: number;
  readonly #host: string;
  readonly #handlers: SecureHandlers;
  #current: Listener;
  readonly #retired: Listener[] = [];
  #listening = true;

  private constructor(host: string, port: number, handlers: SecureHandlers, current: Listener) {
    this.#host = host;
    this.port = port;
    this.#handlers = handlers;
    this.#current = current;
  }

  /** Listens on `port`, which must be concrete (see `reservePort`): port 0 gets no SO_REUSEPORT in uSockets. */
  static async start(host: string, port: number, certificates: readonly InstalledCertificate[], handlers: SecureHandlers): Promise<TlsServer> {
    if (port === 0) throw new Error('TlsServer.start needs a concrete port: reserve it first');
    const app = buildApp(certificates, handlers);
    const socket = await listen(app, host, port);
    return new TlsServer(host, port, handlers, { app, socket });
  }

  /**
   * Serves `certificates` to new connections from now on: a new app joins the port,
   * then the previous one stops accepting (its open connections go on).
   */
  async swap(certificates: readonly InstalledCertificate[]): Promise<void> {
    if (!this.#listening) return;
    const app = buildApp(certificates, this.#handlers);
    const socket = await listen(app, this.#host, this.port);
    const previous = this.#current;
    this.#current = { app, socket };
    if (previous.socket !== undefined) loadUws().us_listen_socket_close(previous.socket);
    previous.socket = undefined;
    // uWS.js never frees an app; keeping it reachable keeps its open connections served.
    this.#retired.push(previous);
  }

  stopListening(): void {
    this.#listening = false;
    const socket = this.#current.socket;
    this.#current.socket = undefined;
    if (socket !== undefined) loadUws().us_listen_socket_close(socket);
  }

  /** Closes every connection of every generation. */
  closeAll(): void {
    this.stopListening();
    for (const listener of [...this.#retired, this.#current]) (listener.app as unknown as { close?: () => void }).close?.();
  }
}
