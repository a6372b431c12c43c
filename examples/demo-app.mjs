// A tiny upstream for warpdrive's demo: answers every request with who it is and
// what it received. LISTEN is a TCP port ("3101") or a Unix socket path.
import http from 'node:http';
import { rmSync } from 'node:fs';

const name = process.env.APP_NAME ?? 'demo';
const listen = process.env.LISTEN ?? '3000';

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  const body = JSON.stringify(
    {
      app: name,
      pid: process.pid,
      method: req.method,
      url: req.url,
      host: req.headers.host,
      forwardedFor: req.headers['x-forwarded-for'],
    },
    null,
    2,
  );
  res.writeHead(200, { 'content-type': 'application/json' }).end(body + '\n');
});

if (/^\d+$/.test(listen)) {
  server.listen(Number(listen), '127.0.0.1');
} else {
  rmSync(listen, { force: true }); // a socket file left by a previous run would block listen()
  server.listen(listen);
}
server.on('listening', () => console.log(`${name} listening on ${listen}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
