/**
 * A byte-level upstream for tests: a plain TCP server that records every byte
 * warpdrive sends it (per connection) and answers each request head with exact
 * bytes chosen by the test, so that answers no HTTP library would write (an
 * unsolicited 100, a stray body, a stream that never ends) can be produced.
 *
 * Request bodies are not parsed: a test that sends one answers from the head
 * and reads the raw bytes afterwards.
 *
 * @module
 */
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';

export interface RawAnswer {
  /** Written as latin1 (exact bytes). */
  readonly bytes: string;
  /** End the connection after writing. */
  readonly close?: boolean;
  /** Write nothing more after `bytes` and keep the connection open (an endless stream is written by `stream`). */
  readonly stream?: (socket: net.Socket) => void;
}

export interface RecordedRequest {
  /** 1-based number of the connection it came on. */
  readonly connection: number;
  /** The request head without its final CRLFCRLF. */
  readonly head: string;
  /** The request target (`/path?query`). */
  readonly target: string;
}

export interface RawUpstream {
  readonly port: number;
  /** `host`/`port` TOML lines for this upstream. */
  readonly toml: string;
  readonly requests: RecordedRequest[];
  /** Every byte received, per connection (index 0 = connection 1). */
  readonly raw: string[];
  /** Connections currently open. */
  readonly open: Set<net.Socket>;
  close(): Promise<void>;
}

/** Starts a raw upstream on 127.0.0.1:0 answering each request head with `answer(target, head)`. */
export async function startRawUpstream(answer: (target: string, head: string) => RawAnswer): Promise<RawUpstream> {
  const requests: RecordedRequest[] = [];
  const raw: string[] = [];
  const open = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    raw.push('');
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      raw[connection - 1] += text;
      buffered += text;
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const target = head.split(' ')[1] ?? '';
        requests.push({ connection, head, target });
        const reply = answer(target, head);
        if (reply.close) socket.end(reply.bytes, 'latin1');
        else socket.write(reply.bytes, 'latin1');
        reply.stream?.(socket);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    toml: `host = "127.0.0.1"\nport = ${port}`,
    requests,
    raw,
    open,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
