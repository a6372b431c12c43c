/**
 * The one upstream every proxy in the bench talks to (and the "direct" ceiling).
 *
 * A uWebSockets.js server, chosen because it is faster than any proxy under test,
 * so the proxy stays the bottleneck. It listens on 127.0.0.1 on `--instances N`
 * ports chosen by the kernel (port 0) and prints one line,
 * `UPSTREAM_READY {"ports":[...]}`, once every listener is up.
 *
 * Routes (any method, any Host; every other path answers like `/`):
 * - `GET /`         : a fixed small body (`SMALL_BODY`), the headline scenario
 * - `GET /100k`     : a fixed 100 KiB body
 * - `POST /upload`  : a sink that counts the request body bytes and answers with the count
 * - `GET /json-100k`: 100 KiB of JSON (bench/lib/sample-bodies.ts), for the compression scenario
 * - `GET /download-1m`: an empty answer with `X-Accel-Redirect: /private/1m.bin`, as
 *   Rails's send_file behind a proxy gives (the proxy serves the file)
 * - `/echo`         : a WebSocket that echoes every message
 * - `GET /cache/*`  : a fixed 1 KiB body with `Cache-Control: public, max-age=3600`
 *                     (the cache scenarios); these requests are counted
 * - `GET /cache-count`: how many `/cache/*` requests arrived, so the bench can
 *                     check that a proxy really answers hits from its cache
 *
 * Run: `node dist/bench/upstream-server.js --instances 3`
 *
 * @module
 */
import uWS from 'uWebSockets.js';
import { ACCEL_FILE, ACCEL_PREFIX } from './lib/bench-files.js';
import { sampleJson } from './lib/sample-bodies.js';

/** The small response body; the same bytes for every request. */
const SMALL_BODY = 'hello from the bench upstream\n';
/** Size of the large response body. */
const LARGE_BODY_BYTES = 100 * 1024;
/** Size of the cacheable body of the cache scenarios. */
const CACHE_BODY_BYTES = 1024;

function parseInstanceCount(argv: readonly string[]): number {
  const at = argv.indexOf('--instances');
  if (at === -1) return 1;
  const count = Number(argv[at + 1]);
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    throw new Error(`--instances must be an integer from 1 to 16, got ${String(argv[at + 1])}`);
  }
  return count;
}

function main(): void {
  const instances = parseInstanceCount(process.argv.slice(2));
  // Built once: uWS copies the bytes it sends, so one buffer serves every response.
  const largeBody = Buffer.alloc(LARGE_BODY_BYTES, 'x');
  const cacheBody = Buffer.alloc(CACHE_BODY_BYTES, 'c');
  const jsonBody = sampleJson(100 * 1024);
  let uploadedBytes = 0;
  let cacheRequests = 0;

  const app = uWS.App()
    .get('/100k', (res) => {
      res.end(largeBody);
    })
    .get('/cache/*', (res) => {
      cacheRequests++;
      res.writeHeader('cache-control', 'public, max-age=3600').writeHeader('content-type', 'text/plain').end(cacheBody);
    })
    .get('/cache-count', (res) => {
      res.end(String(cacheRequests));
    })
    .get('/json-100k', (res) => {
      res.cork(() => res.writeHeader('content-type', 'application/json').end(jsonBody));
    })
    .get('/download-1m', (res) => {
      res.cork(() =>
        res
          .writeHeader('content-type', 'application/octet-stream')
          .writeHeader('content-disposition', 'attachment; filename="1m.bin"')
          .writeHeader('x-accel-redirect', `${ACCEL_PREFIX}${ACCEL_FILE}`)
          .end(),
      );
    })
    .post('/upload', (res) => {
      let bytes = 0;
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      res.onData((chunk, isLast) => {
        // Count only: the chunk is never kept, so no copy is needed.
        bytes += chunk.byteLength;
        if (isLast && !aborted) {
          uploadedBytes += bytes;
          res.cork(() => res.end(`received ${bytes} bytes\n`));
        }
      });
    })
    .ws('/echo', {
      maxPayloadLength: 1024 * 1024,
      idleTimeout: 120,
      message: (ws, message, isBinary) => {
        ws.send(message, isBinary);
      },
    })
    .any('/*', (res, req) => {
      // uWS neither echoes "Connection: close" nor says it will close, so a
      // client (wrk) would send its next request into a closing socket and count
      // a read error. Saying so keeps the "direct" new-connection run clean.
      if (req.getHeader('connection') === 'close') res.writeHeader('connection', 'close').end(SMALL_BODY, true);
      else res.end(SMALL_BODY);
    });

  const ports: number[] = [];
  const listenSockets: uWS.us_listen_socket[] = [];
  for (let i = 0; i < instances; i++) {
    app.listen('127.0.0.1', 0, (listenSocket) => {
      if (!listenSocket) {
        process.stderr.write('upstream-server: could not listen on 127.0.0.1\n');
        process.exit(1);
      }
      listenSockets.push(listenSocket);
      // A listen socket is a socket as far as uSockets is concerned; the typings keep them apart.
      ports.push(uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket));
    });
  }
  process.stdout.write(`UPSTREAM_READY ${JSON.stringify({ ports })}\n`);

  const stop = () => {
    process.stderr.write(`upstream-server: stopping; ${uploadedBytes} upload bytes received in total\n`);
    for (const socket of listenSockets) uWS.us_listen_socket_close(socket);
    // uWS keeps open client sockets alive; the bench is done with them.
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
