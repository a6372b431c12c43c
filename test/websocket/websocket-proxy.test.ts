/**
 * WebSocket proxying as clients see it: real `ws` upstreams on TCP and on a
 * Unix socket, the real warpdrive CLI, a real `ws` client.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from './ws-upstream.js';

/** Opens a client WebSocket and resolves once open (rejects with the refusal). */
async function connect(url: string, protocols?: string[], options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, { maxPayload: 64 * 1024 * 1024, ...options });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary) => resolve({ data, isBinary })));
}

function closed(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('WebSocket proxying', () => {
  let tcp: WsUpstream;
  let unix: WsUpstream;
  let poolA: WsUpstream;
  let poolB: WsUpstream;
  let wd: RunningWarpdrive;
  let base: string;
  /** Accepts TCP connections and never answers: a handshake that never completes. */
  const silent = net.createServer(() => {});

  before(async () => {
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    tcp = await startWsUpstream('tcp');
    unix = await startWsUpstream('unix', { unix: true });
    poolA = await startWsUpstream('a');
    poolB = await startWsUpstream('b');
    const config = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.tcp]
${tcp.toml}

[upstreams.unix]
${unix.toml}

[upstreams.dead]
host = "127.0.0.1"
port = 1
retries = 0

[upstreams.mixed]
strategy = "round_robin"
retries = 1
[[upstreams.mixed.instances]]
host = "127.0.0.1"
port = 1
[[upstreams.mixed.instances]]
${tcp.toml}

[upstreams.silent]
host = "127.0.0.1"
port = ${(silent.address() as AddressInfo).port}
connect_timeout_secs = 0.5
read_timeout_secs = 0.5

[upstreams.pool]
strategy = "least_conn"
[[upstreams.pool.instances]]
${poolA.toml}
[[upstreams.pool.instances]]
${poolB.toml}

[[routes]]
path_prefix = "/unix"
upstream = "unix"
strip_prefix = true

[[routes]]
path_prefix = "/pool"
upstream = "pool"

[[routes]]
path_prefix = "/dead"
upstream = "dead"

[[routes]]
path_prefix = "/mixed"
upstream = "mixed"

[[routes]]
path_prefix = "/silent"
upstream = "silent"

[[routes]]
path_prefix = "/cable"
upstream = "tcp"
rewrite = "/ws"
add_headers = [{ name = "X-Backend", value = "cable" }]

${['/echo', '/chat', '/flood', '/refuse'].map((prefix) => `[[routes]]\npath_prefix = "${prefix}"\nupstream = "tcp"\n`).join('\n')}
`);
    wd = await startWarpdrive(config);
    base = `ws://127.0.0.1:${wd.port}`;
  });

  after(async () => {
    await wd?.stop();
    await Promise.all([tcp, unix, poolA, poolB].map((u) => u?.close()));
    silent.close();
  });

  it('forwards path and query after rewrite, cookies, origin, authorization, forwarded and route headers', async () => {
    const ws = await connect(`${base}/cable/room?token=abc&x=1`, undefined, {
      headers: { cookie: 'session=s3cret; theme=dark', authorization: 'Bearer t0k', 'x-forwarded-for': '6.6.6.6' },
      origin: 'https://app.example.com',
    });
    const shake = tcp.handshakes.at(-1)!;
    assert.equal(shake.url, '/ws/room?token=abc&x=1');
    assert.equal(shake.headers.cookie, 'session=s3cret; theme=dark');
    assert.equal(shake.headers.origin, 'https://app.example.com');
    assert.equal(shake.headers.authorization, 'Bearer t0k');
    assert.equal(shake.headers['x-backend'], 'cable');
    assert.equal(shake.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot forge its address');
    assert.equal(shake.headers['x-forwarded-proto'], 'http');
    assert.equal(shake.headers['x-forwarded-host'], `127.0.0.1:${wd.port}`);
    assert.equal(shake.headers.host, `127.0.0.1:${wd.port}`);
    ws.close();
  });

  it('negotiates the subprotocol with the upstream and returns its choice', async () => {
    const ws = await connect(`${base}/chat`, ['chat.v1', 'chat.v2']);
    assert.equal(ws.protocol, 'chat.v2');
    assert.equal(tcp.handshakes.at(-1)!.protocol, 'chat.v2');
    ws.close();
    // An offer the upstream accepts none of: warpdrive passes the 101 without a protocol on and
    // leaves the verdict to the client (ws and browsers then fail the connection themselves).
    const plain = new WebSocket(`${base}/chat`, ['other']);
    const [error] = (await once(plain, 'error').catch((e: unknown) => [e])) as [Error];
    assert.equal(error.message, 'Server sent no subprotocol');
  });

  it('relays text and binary messages unchanged, including a 10 MiB binary message', async () => {
    const ws = await connect(`${base}/echo`);
    ws.send('héllo wörld ✓');
    const text = await nextMessage(ws);
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'héllo wörld ✓');

    const small = Buffer.from([0, 1, 2, 255, 254]);
    ws.send(small);
    const bin = await nextMessage(ws);
    assert.equal(bin.isBinary, true);
    assert.deepEqual(bin.data, small);

    const big = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i * 2654435761 >>> 0, i);
    ws.send(big);
    const echoed = await nextMessage(ws);
    assert.equal(echoed.data.length, big.length);
    assert.equal(createHash('sha256').update(echoed.data).digest('hex'), createHash('sha256').update(big).digest('hex'));

    // Fragmented by the client: arrives as one message.
    ws.send('frag-', { fin: false });
    ws.send('ment', { fin: true });
    assert.equal((await nextMessage(ws)).data.toString(), 'frag-ment');
    ws.close();
  });

  it('delivers a message the upstream sends the moment it opens (ActionCable welcome)', async () => {
    const ws = new WebSocket(`${base}/echo/welcome`);
    const first = nextMessage(ws);
    assert.equal((await first).data.toString(), 'welcome');
    ws.close();
  });

  it('answers pings on both hops', async () => {
    const ws = await connect(`${base}/echo`);
    ws.ping('are you there');
    const [payload] = (await once(ws, 'pong')) as [Buffer];
    assert.equal(payload.toString(), 'are you there');
    ws.close();
  });

  it('carries close codes and reasons from the client to the upstream', async () => {
    const ws = await connect(`${base}/echo`);
    const upstreamClosed = tcp.handshakes.at(-1)!.closed;
    const clientClosed = closed(ws);
    ws.close(4001, 'client says bye');
    assert.deepEqual(await upstreamClosed, [4001, 'client says bye']);
    assert.equal((await clientClosed)[0], 4001);
  });

  it('carries close codes and reasons from the upstream to the client', async () => {
    const ws = await connect(`${base}/echo`);
    const done = closed(ws);
    ws.send('close 4002 upstream is done');
    assert.deepEqual(await done, [4002, 'upstream is done']);
  });

  it('closes the upstream when the client vanishes, and the client when the upstream dies', async () => {
    const ws = await connect(`${base}/echo`);
    const upstreamClosed = tcp.handshakes.at(-1)!.closed;
    ws.terminate(); // no close frame: TCP just goes away
    assert.deepEqual(await upstreamClosed, [1001, 'client went away']);

    const ws2 = await connect(`${base}/echo`);
    const done = closed(ws2);
    ws2.send('die');
    assert.deepEqual(await done, [1011, 'upstream connection lost']);
  });

  it("answers a refused upgrade with the upstream's status and body", async () => {
    const ws = new WebSocket(`${base}/refuse/here`);
    const [, response] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    assert.equal(response.statusCode, 403);
    assert.equal(response.headers['x-refused-by'], 'tcp');
    let body = '';
    for await (const chunk of response) body += String(chunk);
    assert.equal(body, 'not allowed!!\n');
    ws.on('error', () => {}); // terminate() before open reports itself as an error
    ws.terminate();
  });

  it('answers 502 when the instance refuses connections, and 404 when no route matches', async () => {
    for (const [url, status] of [[`${base}/dead`, 502], [`ws://localhost:${wd.port}/nowhere`, 404]] as const) {
      const ws = new WebSocket(url);
      const [, response] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
      assert.equal(response.statusCode, status, url);
      ws.on('error', () => {});
      ws.terminate();
    }
  });

  it('retries a refused connection on another instance, and answers 504 to a handshake that never completes', async () => {
    for (let i = 0; i < 4; i++) {
      const ws = await connect(`${base}/mixed/echo`);
      ws.close();
      await closed(ws);
    }
    const ws = new WebSocket(`${base}/silent`);
    const [, response] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    assert.equal(response.statusCode, 504);
    ws.on('error', () => {});
    ws.terminate();
  });

  it('proxies to a Unix-socket upstream with strip_prefix', async () => {
    const ws = await connect(`${base}/unix/live?q=1`);
    assert.equal(unix.handshakes.at(-1)!.url, '/live?q=1');
    ws.send('over a unix socket');
    assert.equal((await nextMessage(ws)).data.toString(), 'over a unix socket');
    ws.close();
  });

  it('counts an open WebSocket as in flight for least_conn', async () => {
    const held = await connect(`${base}/pool/ws`);
    const holder = poolA.sockets.size === 1 ? 'a' : 'b';
    assert.equal(poolA.sockets.size + poolB.sockets.size, 1);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(`http://127.0.0.1:${wd.port}/pool/name`);
      names.push(await res.body.text());
    }
    const other = holder === 'a' ? 'b' : 'a';
    assert.deepEqual(names, Array(6).fill(other), 'every request avoids the instance holding the WebSocket');
    held.close();
    await closed(held);
  });

  it('pauses a fast upstream for a slow client: memory stays flat, nothing is lost', async (t) => {
    const total = 96 * 1024 * 1024;
    const ws = await connect(`${base}/flood`);
    const upstreamSocket = [...tcp.sockets].at(-1)!;
    assert.ok(upstreamSocket);
    const rssBefore = rssBytes(wd.child.pid!);
    let received = 0;
    ws.on('message', (data: Buffer) => (received += data.length));
    ws.pause(); // stop reading: the client's TCP window fills
    ws.send(`flood ${total}`);
    // Wait until the upstream makes no more progress (bounded: 30 s).
    let last = -1;
    const stalledBy = Date.now() + 30_000;
    while (Date.now() < stalledBy) {
      await new Promise((r) => setTimeout(r, 500));
      if (tcp.floodSent === last && last > 0) break;
      last = tcp.floodSent;
    }
    const rssDuring = rssBytes(wd.child.pid!);
    const stalledAt = tcp.floodSent;
    t.diagnostic(`upstream held at ${(stalledAt / 2 ** 20).toFixed(1)} MiB of ${total >> 20} MiB; warpdrive RSS ${(rssBefore / 2 ** 20).toFixed(1)} -> ${(rssDuring / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(stalledAt < total / 2, `the upstream was held back (sent ${stalledAt >> 20} MiB of ${total >> 20} MiB)`);
    assert.ok(rssDuring - rssBefore < 40 * 1024 * 1024, `warpdrive grew by ${(rssDuring - rssBefore) >> 20} MiB`);
    ws.resume();
    while (received < total) await once(ws, 'message');
    assert.equal(received, total);
    ws.close();
  });
});
