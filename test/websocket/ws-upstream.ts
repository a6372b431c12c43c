/**
 * A real WebSocket upstream for the tests: the `ws` package's server on a
 * node:http server (TCP on 127.0.0.1:0 or a Unix socket), recording every
 * handshake and driven by the messages it receives.
 *
 * Commands (text messages): `close CODE REASON` closes with that code,
 * `die` drops the TCP connection without a close frame, `flood BYTES` sends
 * BYTES in 64 KiB binary messages as fast as its own socket takes them,
 * `big BYTES` sends one binary message of BYTES, `stall` stops reading.
 * Anything else is echoed back unchanged (text as text, binary as binary).
 * Paths starting with `/refuse` are answered 403 with a body; plain HTTP
 * requests get the upstream's name. A path containing `welcome` gets a
 * `welcome` message as soon as it opens.
 *
 * @module
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { tempDir } from '../helpers/upstream.js';

export interface Handshake {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly protocol: string;
  /** This connection's close as the upstream saw it (code, reason). */
  readonly closed: Promise<[number, string]>;
}

export interface WsUpstream {
  readonly name: string;
  readonly toml: string;
  readonly socketPath: string | undefined;
  readonly handshakes: Handshake[];
  readonly sockets: Set<WebSocket>;
  /** Close codes and reasons the upstream received (code, reason). */
  readonly closes: Array<[number, string]>;
  /** Bytes the current flood has handed to its socket. */
  floodSent: number;
  /** Resolves with the next close the upstream observes. */
  nextClose(): Promise<[number, string]>;
  close(): Promise<void>;
}

const FLOOD_CHUNK = Buffer.alloc(64 * 1024, 7);

export async function startWsUpstream(name: string, options: { unix?: boolean } = {}): Promise<WsUpstream> {
  const server = http.createServer((req, res) => res.end(name));
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : protocols.has('chat.v1') ? 'chat.v1' : false),
  });
  const closeWaiters: Array<(c: [number, string]) => void> = [];
  const upstream: WsUpstream = {
    name,
    toml: '',
    socketPath: undefined,
    handshakes: [],
    sockets: new Set(),
    closes: [],
    floodSent: 0,
    nextClose: () => new Promise((resolve) => closeWaiters.push(resolve)),
    close: async () => {
      for (const socket of upstream.sockets) socket.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.startsWith('/refuse')) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nx-refused-by: ' + name + '\r\ncontent-length: 14\r\nconnection: close\r\n\r\nnot allowed!!\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let closedWith!: (c: [number, string]) => void;
      const closed = new Promise<[number, string]>((resolve) => (closedWith = resolve));
      upstream.handshakes.push({ url: req.url ?? '', headers: req.headers, protocol: ws.protocol, closed });
      upstream.sockets.add(ws);
      ws.on('close', (code, reason) => {
        upstream.sockets.delete(ws);
        const entry: [number, string] = [code, reason.toString()];
        upstream.closes.push(entry);
        closedWith(entry);
        for (const waiter of closeWaiters.splice(0)) waiter(entry);
      });
      ws.on('error', () => {});
      // Like ActionCable's welcome: a message sent the moment the connection opens.
      if (req.url?.includes('welcome')) ws.send('welcome');
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) {
          const text = data.toString();
          if (text.startsWith('close ')) {
            const [, code, ...reason] = text.split(' ');
            ws.close(Number(code), reason.join(' '));
            return;
          }
          if (text === 'die') {
            ws.terminate();
            return;
          }
          if (text.startsWith('big ')) {
            ws.send(Buffer.alloc(Number(text.slice(4)), 1));
            return;
          }
          if (text === 'stall') {
            ws.pause(); // stops reading its socket: what warpdrive sends piles up in front of it
            return;
          }
          if (text.startsWith('flood ')) {
            flood(ws, Number(text.slice(6)));
            return;
          }
        }
        ws.send(data, { binary: isBinary });
      });
    });
  });
  /** Sends `total` bytes, never letting its own socket buffer more than 1 MiB (so the test process stays small). */
  function flood(ws: WebSocket, total: number): void {
    upstream.floodSent = 0;
    const pump = (): void => {
      while (upstream.floodSent < total && ws.readyState === ws.OPEN) {
        if (ws.bufferedAmount > 1024 * 1024) {
          setTimeout(pump, 5);
          return;
        }
        ws.send(FLOOD_CHUNK);
        upstream.floodSent += FLOOD_CHUNK.length;
      }
    };
    pump();
  }
  let socketPath: string | undefined;
  if (options.unix) {
    socketPath = path.join(tempDir('wd-ws-'), 'ws.sock');
    server.listen(socketPath);
  } else {
    server.listen(0, '127.0.0.1');
  }
  await once(server, 'listening');
  const toml = socketPath ? `socket = ${JSON.stringify(socketPath)}` : `host = "127.0.0.1"\nport = ${(server.address() as AddressInfo).port}`;
  return Object.assign(upstream, { toml, socketPath });
}
