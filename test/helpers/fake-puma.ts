/**
 * A stand-in for `bundle exec puma --bind unix://PATH ...`, for tests of the
 * configurations warpdrive writes for Rails apps: it binds where Puma would
 * (PATH relative to its working directory, as Puma resolves it), answers GET /up
 * with 200 as Rails 7.1 does, echoes every other request as JSON, and echoes
 * WebSocket messages on /cable as ActionCable's endpoint would accept them.
 *
 * Run as a script: `node fake-puma.js exec puma --bind unix://tmp/puma.sock ...`
 * (the arguments `bundle` would receive).
 *
 * @module
 */
import http from 'node:http';
import { rmSync } from 'node:fs';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const bind = args[args.indexOf('--bind') + 1];
if (args.indexOf('--bind') === -1 || bind === undefined || !bind.startsWith('unix://')) {
  process.stderr.write(`fake puma: expected --bind unix://PATH, got ${JSON.stringify(args)}\n`);
  process.exit(64);
}
const socketPath = bind.slice('unix://'.length);

const server = http.createServer((req, res) => {
  const body = req.url === '/up' ? 'up' : JSON.stringify({ app: 'fake-puma', cwd: process.cwd(), url: req.url, env: process.env.RAILS_ENV });
  res.writeHead(200, { 'content-type': req.url === '/up' ? 'text/plain' : 'application/json' }).end(body);
});
const cable = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  if (req.url !== '/cable') return socket.destroy();
  cable.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
});
rmSync(socketPath, { force: true });
server.listen(socketPath, () => process.stdout.write(`fake puma listening on ${bind}\n`));
process.on('SIGTERM', () => {
  for (const client of cable.clients) client.terminate();
  server.close(() => process.exit(0));
});
