/**
 * The limits of a bridged WebSocket: the message size cap in both directions,
 * the bound on what piles up for an upstream that stops reading, and the idle
 * timeout for a client that stops answering pings.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from './ws-upstream.js';

const MAX = 1024 * 1024;

async function connect(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { maxPayload: 64 * MAX, ...options });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

function closed(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

describe('WebSocket limits', () => {
  let upstream: WsUpstream;
  let wd: RunningWarpdrive;
  let url: string;

  before(async () => {
    upstream = await startWsUpstream('limits');
    wd = await startWarpdrive(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
websocket_max_message_bytes = ${MAX}
websocket_idle_timeout_secs = 8

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "app"
`),
    );
    url = `ws://127.0.0.1:${wd.port}/ws`;
  });

  after(async () => {
    await wd?.stop();
    await upstream?.close();
  });

  it('relays a message of exactly the maximum, and closes past it, from either side (1009 towards the client)', async () => {
    const ws = await connect(url);
    ws.send(Buffer.alloc(MAX, 3));
    const echo = await new Promise<Buffer>((resolve) => ws.once('message', (data: Buffer) => resolve(data)));
    assert.equal(echo.length, MAX);

    const upstreamClosed = upstream.handshakes.at(-1)!.closed;
    const done = closed(ws);
    ws.send(Buffer.alloc(MAX + 1));
    // The client learns why (1009), and so does the upstream, which never saw the message.
    assert.deepEqual(await done, [1009, 'message too big']);
    assert.deepEqual(await upstreamClosed, [1009, 'message too big']);

    const ws2 = await connect(url);
    const done2 = closed(ws2);
    ws2.send(`big ${MAX + 1}`);
    assert.equal((await done2)[0], 1009);
  });

  it('a client message more than 1 MiB over the maximum is dropped by uWS itself, without a close frame (this build)', async () => {
    // uWS reads up to websocket_max_message_bytes + 1 MiB so that warpdrive can answer 1009; past that
    // this uWS build closes the TCP connection as soon as it reads the frame header (no 1009 of its own).
    // A uWS build that sends 1009 itself turns this red: then the margin can go (see native-notes).
    const ws = await connect(url);
    const upstreamClosed = upstream.handshakes.at(-1)!.closed;
    const done = closed(ws);
    ws.send(Buffer.alloc(MAX + 2 * MAX));
    assert.equal((await done)[0], 1006);
    assert.deepEqual(await upstreamClosed, [1001, 'client went away']);
  });

  it('closes with 1013 rather than buffering without bound for an upstream that stops reading', async (t) => {
    const ws = await connect(url);
    ws.send('stall');
    const rssBefore = rssBytes(wd.child.pid!);
    const done = closed(ws);
    let isClosed = false;
    void done.then(() => (isClosed = true));
    const chunk = Buffer.alloc(64 * 1024, 9);
    let sent = 0;
    // Send while our own socket keeps up, until warpdrive closes us (bounded at 512 MiB).
    while (!isClosed && sent < 512 * MAX) {
      if (ws.bufferedAmount > 4 * MAX) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      ws.send(chunk);
      sent += chunk.length;
    }
    const rssAfter = rssBytes(wd.child.pid!);
    t.diagnostic(`closed after ${(sent / MAX).toFixed(1)} MiB sent; warpdrive RSS ${(rssBefore / MAX).toFixed(1)} -> ${(rssAfter / MAX).toFixed(1)} MiB`);
    assert.deepEqual(await done, [1013, 'upstream is not reading fast enough']);
    assert.ok(rssAfter - rssBefore < 40 * MAX, `warpdrive grew by ${((rssAfter - rssBefore) / MAX).toFixed(1)} MiB`);
  });

  it('closes a client that stops answering pings after the idle timeout, and its upstream', async () => {
    const ws = await connect(url, { autoPong: false });
    const upstreamClosed = upstream.handshakes.at(-1)!.closed;
    const [code] = await closed(ws);
    assert.ok(code === 1006 || code === 1001, `client saw ${code}`);
    assert.deepEqual(await upstreamClosed, [1001, 'client went away']);
  });
});
