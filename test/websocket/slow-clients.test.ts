/**
 * Memory held for WebSocket clients that do not read, through the real CLI with
 * raw TCP clients (a `ws` client would read): per connection, what uWS writes by
 * itself (the pongs owed to a client that pings but never reads) is capped and
 * the connection closed past the cap; across connections, relayed data held for
 * clients that fell behind is bounded by server.websocket_max_buffered_bytes.
 * Memory is warpdrive's resident set, read from /proc while the clients push.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { rssBytes, waitFor } from '../helpers/proc.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from './ws-upstream.js';

const MiB = 1024 * 1024;

/** A client-to-server WebSocket frame (masked, as RFC 6455 requires of clients). */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length = payload.length;
  const head = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

interface RawClient {
  readonly socket: net.Socket;
  closed: boolean;
}

/** Opens a WebSocket over raw TCP, then stops reading for good. */
async function openNonReading(port: number, path: string): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1');
  const client: RawClient = { socket, closed: false };
  socket.on('error', () => {});
  socket.on('close', () => (client.closed = true));
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const [head] = (await once(socket, 'data')) as [Buffer];
  assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
  socket.pause();
  return client;
}

/** Samples warpdrive's RSS every 50 ms until stopped; returns the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssBytes(pid) ?? 0;
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid) ?? 0)), 50);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid) ?? 0);
    },
  };
}

describe('WebSocket clients that never read', { timeout: 90_000 }, () => {
  let upstream: WsUpstream;
  let wd: RunningWarpdrive;
  const maxBuffered = 8 * MiB;

  before(async () => {
    upstream = await startWsUpstream('slow');
    wd = await startWarpdrive(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
websocket_max_buffered_bytes = ${maxBuffered}

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "app"
`),
    );
  });
  after(async () => {
    await wd?.stop();
    await upstream?.close();
  });

  it('ten clients that ping and never read are each closed once ~384 KiB of pongs waits for them; memory stays flat', async (t) => {
    const pid = wd.child.pid!;
    const before = rssBytes(pid)!;
    const sampler = sampleRss(pid);
    const pings = Buffer.concat(Array.from({ length: 500 }, () => frame(0x9, Buffer.alloc(125, 1))));
    const clients = await Promise.all(Array.from({ length: 10 }, () => openNonReading(wd.port, '/pinger')));
    for (const client of clients) {
      const pump = (): void => {
        while (!client.socket.destroyed && client.socket.write(pings));
      };
      client.socket.on('drain', pump);
      pump();
    }
    // Before the per-connection cap, these clients took warpdrive from 86 to 441 MiB and were never closed.
    await waitFor(() => clients.every((c) => c.closed), 45_000, () => `${clients.filter((c) => c.closed).length}/10 closed`);
    const peak = sampler.stop();
    t.diagnostic(`warpdrive RSS ${(before / MiB).toFixed(1)} MiB before, ${(peak / MiB).toFixed(1)} MiB at the peak`);
    assert.ok(peak - before < 24 * MiB, `warpdrive grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
    const live = new WebSocket(`ws://127.0.0.1:${wd.port}/live`);
    await once(live, 'open');
    live.send('still here');
    assert.equal(((await once(live, 'message')) as [Buffer])[0].toString(), 'still here');
    live.close();
  });

  it('sixty clients that never read, sent as much as the upstream can: the ones holding the most are dropped to keep under websocket_max_buffered_bytes', async (t) => {
    const pid = wd.child.pid!;
    const before = rssBytes(pid)!;
    const sampler = sampleRss(pid);
    const count = 60;
    const clients = await Promise.all(Array.from({ length: count }, () => openNonReading(wd.port, '/flooded')));
    for (const client of clients) client.socket.write(frame(0x1, Buffer.from(`flood ${64 * MiB}`)));
    // A paused socket notices a close only when it writes: an unsolicited pong (ignored by the peer) every 100 ms.
    const pong = frame(0xa, Buffer.alloc(0));
    const heartbeat = setInterval(() => {
      for (const client of clients) if (!client.socket.destroyed) client.socket.write(pong);
    }, 100);
    t.after(() => clearInterval(heartbeat));
    // Each holds up to ~384 KiB in warpdrive (its upstream is paused after 256 KiB): ~22 MiB for sixty, over the 8 MiB bound.
    await waitFor(() => /MiB held for WebSocket clients that do not read, over the bound of 8\.0 MiB/.test(wd.output()), 30_000, () => wd.output());
    await waitFor(() => clients.some((c) => c.closed), 10_000, () => wd.output());
    assert.ok(clients.some((c) => !c.closed), 'only the clients holding the most were dropped');
    // What stays is under the bound: warpdrive's account of each sweep (held, then freed by dropping).
    for (const [, held, freed] of wd.output().matchAll(/([\d.]+) MiB held for WebSocket clients that do not read, over the bound of 8\.0 MiB .*\(([\d.]+) MiB\)/g)) {
      assert.ok(Number(held) - Number(freed) <= maxBuffered / MiB, `${held} MiB held, ${freed} MiB freed`);
    }
    // And it does not creep up while they sit there.
    const settled = rssBytes(pid)!;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const later = rssBytes(pid)!;
    const peak = sampler.stop();
    const open = clients.filter((c) => !c.closed).length;
    t.diagnostic(`${count - open} of ${count} dropped; warpdrive RSS ${(before / MiB).toFixed(1)} MiB before, ${(peak / MiB).toFixed(1)} MiB at the peak, ${(settled / MiB).toFixed(1)} -> ${(later / MiB).toFixed(1)} MiB over 2 s after`);
    assert.ok(later - settled < 4 * MiB, `RSS crept up by ${((later - settled) / MiB).toFixed(1)} MiB`);
    // The peak includes relaying 256 KiB to each client and the allocator's share of that churn (see docs/security.md).
    assert.ok(peak - before < 128 * MiB, `warpdrive grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
    // A client that reads is served throughout.
    const live = new WebSocket(`ws://127.0.0.1:${wd.port}/live`);
    await once(live, 'open');
    live.send('still here');
    assert.equal(((await once(live, 'message')) as [Buffer])[0].toString(), 'still here');
    live.close();
    for (const client of clients) client.socket.destroy();
  });
});
