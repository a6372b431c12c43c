/**
 * Real upstream servers for tests: node:http on 127.0.0.1:0 or on a Unix socket.
 *
 * @module
 */
import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export interface TestUpstream {
  readonly server: http.Server;
  /** TCP port, or 0 when listening on a Unix socket. */
  readonly port: number;
  /** Socket path when listening on a Unix socket. */
  readonly socketPath: string | undefined;
  /** TOML lines that address this upstream (`host`/`port` or `socket`). */
  readonly toml: string;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A fresh temporary directory (for Unix sockets and config files). */
export function tempDir(prefix = 'wd-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Starts `handler` on 127.0.0.1:0, or on a Unix socket when `unix` is true. */
export async function startUpstream(handler: Handler, options: { unix?: boolean } = {}): Promise<TestUpstream> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, handler);
  let socketPath: string | undefined;
  if (options.unix) {
    socketPath = path.join(tempDir('wd-sock-'), 'upstream.sock');
    server.listen(socketPath);
  } else {
    server.listen(0, '127.0.0.1');
  }
  await once(server, 'listening');
  const port = options.unix ? 0 : (server.address() as AddressInfo).port;
  const toml = socketPath ? `socket = ${JSON.stringify(socketPath)}` : `host = "127.0.0.1"\nport = ${port}`;
  return {
    server,
    port,
    socketPath,
    toml,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An upstream that echoes what it received as JSON: method, url, headers (raw pairs), body length. */
export function echoHandler(name = 'echo'): Handler {
  return (req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, rawHeaders: req.rawHeaders, headers: req.headers, bodyBytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}
