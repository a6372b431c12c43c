/**
 * Not a proxy: a reference point. The least a uWebSockets.js front end with
 * Node.js egress can cost per request, so that the bench can tell what of
 * warpdrive's cost is the architecture's floor and what is warpdrive's own.
 *
 * It takes a GET on any path, forwards it to the first upstream instance with
 * the same X-Forwarded-* headers the proxies set, and answers with the
 * upstream's status and body. Nothing else: no routing, no header copying, no
 * timeouts, no retries, no request bodies, no chunked responses. Two egresses:
 *
 * - `--client net`: a keep-alive `net.Socket` per in-flight request and a
 *   hand-written HTTP/1.1 exchange (Content-Length responses only): the floor
 *   of uWS + Node's stream sockets + the kernel.
 * - `--client undici`: an undici Pool and the least dispatch handler that
 *   works: that floor plus undici.
 *
 * Run: `node dist/bench/egress-floor.js --client net|undici PORT UPSTREAM_PORT`;
 * prints `FLOOR_READY PORT` once listening.
 *
 * @module
 */
import net from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import uWS from 'uWebSockets.js';

/** Keep-alive connections at most, as warpdrive's default max_connections. */
const MAX_CONNECTIONS = 256;
const HEADER_END = Buffer.from('\r\n\r\n');

interface Exchange {
  readonly res: uWS.HttpResponse;
  readonly url: string;
  readonly host: string;
  readonly clientIp: string;
  aborted: boolean;
}

function answer(exchange: Exchange, status: string, body: Uint8Array | string): void {
  if (exchange.aborted) return;
  exchange.res.cork(() => {
    exchange.res.writeStatus(status).writeHeader('content-type', 'text/plain').end(body);
  });
}

/** The hand-written egress: one exchange in flight per socket, Content-Length bodies only. */
class NetEgress {
  readonly #port: number;
  readonly #idle: NetConnection[] = [];
  readonly #waiting: Exchange[] = [];
  #opened = 0;

  constructor(port: number) {
    this.#port = port;
  }

  send(exchange: Exchange): void {
    const connection = this.#idle.pop() ?? (this.#opened < MAX_CONNECTIONS ? this.#open() : undefined);
    if (connection) connection.send(exchange);
    else this.#waiting.push(exchange);
  }

  released(connection: NetConnection): void {
    const next = this.#waiting.shift();
    if (next) connection.send(next);
    else this.#idle.push(connection);
  }

  #open(): NetConnection {
    this.#opened++;
    return new NetConnection(this, net.connect(this.#port, '127.0.0.1'));
  }
}

class NetConnection {
  readonly #owner: NetEgress;
  readonly #socket: net.Socket;
  #current: Exchange | undefined;
  #buffered: Buffer | undefined;

  constructor(owner: NetEgress, socket: net.Socket) {
    this.#owner = owner;
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {
      if (this.#current) answer(this.#current, '502 Bad Gateway', '');
    });
  }

  send(exchange: Exchange): void {
    this.#current = exchange;
    this.#socket.write(
      `GET ${exchange.url} HTTP/1.1\r\nhost: ${exchange.host}\r\nx-forwarded-for: ${exchange.clientIp}\r\n` +
        `x-forwarded-proto: http\r\nx-forwarded-host: ${exchange.host}\r\n\r\n`,
      'latin1',
    );
  }

  #onData(chunk: Buffer): void {
    const data = this.#buffered ? Buffer.concat([this.#buffered, chunk]) : chunk;
    const headEnd = data.indexOf(HEADER_END);
    if (headEnd < 0) {
      this.#buffered = data;
      return;
    }
    const head = data.toString("latin1", 0, headEnd);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (data.length < headEnd + 4 + length) {
      this.#buffered = data;
      return;
    }
    this.#buffered = undefined;
    const exchange = this.#current!;
    this.#current = undefined;
    answer(exchange, head.slice(9, head.indexOf('\r\n')), data.subarray(headEnd + 4, headEnd + 4 + length));
    this.#owner.released(this);
  }
}

/** undici's native handler interface, doing nothing it does not have to. */
class UndiciExchange implements Dispatcher.DispatchHandler {
  readonly #exchange: Exchange;
  #status = '200 OK';

  constructor(exchange: Exchange) {
    this.#exchange = exchange;
  }

  onConnect(): void {}

  onHeaders(statusCode: number, _headers: Buffer[], _resume: () => void, statusText: string): boolean {
    this.#status = `${statusCode} ${statusText}`;
    return true;
  }

  onData(chunk: Buffer): boolean {
    answer(this.#exchange, this.#status, chunk);
    return true;
  }

  onComplete(): void {}

  onError(): void {
    answer(this.#exchange, '502 Bad Gateway', '');
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const clientAt = args.indexOf('--client');
  const client = clientAt >= 0 ? args.splice(clientAt, 2)[1] : undefined;
  const [port, upstreamPort] = args.map(Number);
  if ((client !== 'net' && client !== 'undici') || !port || !upstreamPort) {
    process.stderr.write('usage: egress-floor.js --client net|undici PORT UPSTREAM_PORT\n');
    process.exit(2);
  }
  const netEgress = client === 'net' ? new NetEgress(upstreamPort) : undefined;
  const pool = client === 'undici' ? new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: MAX_CONNECTIONS }) : undefined;
  uWS
    .App()
    .any('/*', (res, req) => {
      const exchange: Exchange = {
        res,
        url: req.getUrl(),
        host: req.getHeader('host'),
        clientIp: Buffer.from(res.getRemoteAddressAsText()).toString(),
        aborted: false,
      };
      res.onAborted(() => {
        exchange.aborted = true;
      });
      if (netEgress) {
        netEgress.send(exchange);
        return;
      }
      const headers = ['host', exchange.host, 'x-forwarded-for', exchange.clientIp, 'x-forwarded-proto', 'http', 'x-forwarded-host', exchange.host];
      pool!.dispatch({ path: exchange.url, method: 'GET', headers }, new UndiciExchange(exchange));
    })
    .listen('127.0.0.1', port, (token) => {
      if (!token) {
        process.stderr.write(`egress-floor: cannot listen on 127.0.0.1:${port}\n`);
        process.exit(1);
      }
      process.stdout.write(`FLOOR_READY ${port}\n`);
    });
}

main();
