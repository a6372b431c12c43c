/**
 * A stand-in for `bundle exec puma --bind unix://PATH ...`, for tests of the
 * configurations warpdrive writes for Rails apps: it binds where Puma would (PATH
 * relative to its working directory, as Puma resolves it), answers GET /up with 200
 * as Rails 7.1 does, echoes every other request as JSON, and echoes WebSocket
 * messages on /cable as ActionCable's endpoint would accept them.
 *
 * The script is written to a temporary file (like the supervisor tests' child), not
 * compiled under test/, where the test runner would run it as a test file.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './upstream.js';

/** The script; `ws` is imported by absolute URL, since the file lives outside the repository. */
function source(wsUrl: string): string {
  return `
import http from 'node:http';
import { rmSync } from 'node:fs';
import { WebSocketServer } from ${JSON.stringify(wsUrl)};

// The arguments bundle would receive: exec puma --bind unix://PATH ...
const args = process.argv.slice(2);
const at = args.indexOf('--bind');
const bind = at === -1 ? undefined : args[at + 1];
if (bind === undefined || !bind.startsWith('unix://')) {
  process.stderr.write('fake puma: expected --bind unix://PATH, got ' + JSON.stringify(args) + '\\n');
  process.exit(64);
}
const socketPath = bind.slice('unix://'.length);

const server = http.createServer((req, res) => {
  const up = req.url === '/up';
  res.writeHead(200, { 'content-type': up ? 'text/plain' : 'application/json' });
  res.end(up ? 'up' : JSON.stringify({ app: 'fake-puma', cwd: process.cwd(), url: req.url, env: process.env.RAILS_ENV }));
});
const cable = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  if (req.url !== '/cable') return socket.destroy();
  cable.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
});
rmSync(socketPath, { force: true });
server.listen(socketPath, () => process.stdout.write('fake puma listening on ' + bind + '\\n'));
process.on('SIGTERM', () => {
  for (const client of cable.clients) client.terminate();
  server.close(() => process.exit(0));
});
`;
}

let scriptPath: string | undefined;

/** Path of the fake Puma script (written once per test process). */
export function fakePumaScript(): string {
  if (scriptPath === undefined) {
    scriptPath = path.join(tempDir('wd-fake-puma-'), 'fake-puma.mjs');
    writeFileSync(scriptPath, source(import.meta.resolve('ws')));
  }
  return scriptPath;
}
