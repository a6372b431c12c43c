/**
 * `server.shutdown_timeout_secs` is a bound, not a wish: responses that never
 * end (server-sent events, long downloads) and WebSockets whose upstream does not
 * answer a close are cut when it passes, supervised processes are stopped, and
 * warpdrive exits 0, saying what it cut. Through the real CLI, with a supervised
 * upstream that streams forever and a WebSocket upstream that stops reading.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { parseResponses } from '../helpers/raw-http.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { isAlive } from '../helpers/proc.js';
import { tempDir } from '../helpers/upstream.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from '../websocket/ws-upstream.js';

const bounded = { timeout: 30_000 };

/** A node:http server on a Unix socket that answers every request with a chunk every 50 ms, forever. */
const endlessServer = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const timer = setInterval(() => res.write('data: tick\\n\\n'), 50);
  res.on('close', () => clearInterval(timer));
});
server.listen(process.argv[1]);
`;

interface StreamClient {
  readonly socket: net.Socket;
  received: string;
  closedAt: number;
}

async function openStream(port: number, target: string): Promise<StreamClient> {
  const socket = net.connect(port, '127.0.0.1');
  const client: StreamClient = { socket, received: '', closedAt: 0 };
  socket.on('data', (chunk: Buffer) => (client.received += chunk.toString('latin1')));
  socket.on('close', () => (client.closedAt = Date.now()));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  // Streaming: the head and a first event have arrived.
  while (!client.received.includes('data: tick')) await once(socket, 'data');
  return client;
}

for (const threads of [1, 2]) describe(`shutdown_timeout_secs with responses that never end and WebSockets that never close (${threads} proxy thread(s))`, bounded, () => {
  let wsUpstream: WsUpstream;
  let feed: RawUpstream;
  let wd: RunningWarpdrive;
  const socketPath = path.join(tempDir('wd-endless-'), 'endless.sock');

  before(async () => {
    wsUpstream = await startWsUpstream('cable');
    // Not supervised: stopping processes does not end its streams.
    feed = await startRawUpstream(() => ({
      bytes: 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
      stream: (socket) => {
        const timer = setInterval(() => socket.write('c\r\ndata: tick\n\n\r\n'), 50);
        socket.on('close', () => clearInterval(timer));
      },
    }));
    wd = await startWarpdrive(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
shutdown_timeout_secs = 1
worker_threads = ${threads}

[upstreams.events]
socket = ${JSON.stringify(socketPath)}
process.command = ${JSON.stringify(process.execPath)}
process.args = ["-e", ${JSON.stringify(endlessServer)}, ${JSON.stringify(socketPath)}]

[upstreams.cable]
${wsUpstream.toml}

[upstreams.feed]
${feed.toml}

[[routes]]
path_prefix = "/feed"
upstream = "feed"

[[routes]]
path_prefix = "/cable"
upstream = "cable"

[[routes]]
path_prefix = "/"
upstream = "events"
`),
    );
  });
  after(async () => {
    await wd?.stop('SIGKILL');
    await wsUpstream?.close();
    await feed?.close();
  });

  test('at the timeout everything is cut, the process is stopped, exit 0, and the log says what was cut', bounded, async () => {
    const targets = ['/stream/0', '/stream/1', '/stream/2', '/feed/3', '/feed/4'];
    const streams = await Promise.all(targets.map((target) => openStream(wd.port, target)));
    const sockets = await Promise.all(
      ['/cable/a', '/cable/b'].map(async (target) => {
        const client = new WebSocket(`ws://127.0.0.1:${wd.port}${target}`);
        await once(client, 'open');
        return client;
      }),
    );
    // One WebSocket upstream stops reading: it will never answer warpdrive's close frame.
    sockets[1]!.send('stall');
    const closes = sockets.map((client) => new Promise<number>((resolve) => client.once('close', (code) => resolve(code))));
    const childPid = Number(/events: started, pid (\d+)/.exec(wd.output())?.[1]);
    assert.ok(childPid > 0 && isAlive(childPid), wd.output());

    const signalledAt = Date.now();
    const code = await wd.stop('SIGTERM');
    const exitedAfter = Date.now() - signalledAt;

    assert.equal(code, 0, wd.output());
    // 1 s of grace, then the cut; the rest is stopping the process (it exits on SIGTERM at once).
    assert.ok(exitedAfter < 4_000, `exited ${exitedAfter} ms after SIGTERM:\n${wd.output()}`);
    for (const stream of streams) {
      assert.ok(stream.closedAt > 0, 'the stream\'s connection was closed');
      assert.ok(stream.closedAt - signalledAt >= 900, `cut only at the timeout, not at once (${stream.closedAt - signalledAt} ms)`);
      assert.equal(parseResponses(stream.received).complete, false, 'the client can tell the stream was cut (no final chunk)');
    }
    assert.deepEqual(await Promise.all(closes), [1001, 1001]);
    assert.ok(!isAlive(childPid), 'the supervised process was stopped');
    const output = wd.output();
    // Each proxy thread cuts and names its own requests.
    const cutLines = output.split('\n').filter((line) => /shutdown timeout \(1000 ms\) passed( on proxy thread \d)?: cut \d+ request\(s\) still in flight/.test(line));
    assert.ok(cutLines.length >= 1, output);
    for (const target of targets) assert.ok(cutLines.some((line) => new RegExp(`GET ${target} \\((events|feed)#0`).test(line)), `${target} named as cut:\n${output}`);
    assert.match(output, /stopped/);
  });
});
