/**
 * A real node:http upstream that counts and records the requests it receives,
 * so a cache test can say exactly how many reached the application.
 *
 * @module
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** 1-based arrival order. */
  readonly number: number;
}

export type CountingHandler = (req: http.IncomingMessage, res: http.ServerResponse, number: number) => void;

export interface CountingUpstream {
  readonly port: number;
  readonly toml: string;
  /** Requests received so far, in arrival order. */
  readonly received: ReceivedRequest[];
  count(path?: string): number;
  /** Replaces the handler (a test's next phase). */
  handle(handler: CountingHandler): void;
  close(): Promise<void>;
}

export async function startCountingUpstream(handler: CountingHandler): Promise<CountingUpstream> {
  let current = handler;
  const received: ReceivedRequest[] = [];
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const record: ReceivedRequest = { method: req.method!, url: req.url!, headers: req.headers, number: received.length + 1 };
    received.push(record);
    // Read the body (POST/PUT) before answering, as an application would.
    req.resume();
    req.on('end', () => current(req, res, record.number));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    toml: `host = "127.0.0.1"\nport = ${port}`,
    received,
    count: (path) => (path === undefined ? received.length : received.filter((r) => r.url === path).length),
    handle: (next) => (current = next),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An answer with the given headers and a body naming the request number (so a test can tell responses apart). */
export function reply(res: http.ServerResponse, number: number, headers: Record<string, string | string[]> = {}, status = 200): void {
  const body = `response ${number}`;
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
