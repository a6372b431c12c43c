/**
 * Plain requests, WebSocket upgrades and `warpdrive routes --explain` go through
 * one pipeline and one host normaliser, so they agree on where a request goes.
 * Each case here once drifted apart between the two request paths.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { runCli, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from '../websocket/ws-upstream.js';

const bounded = { timeout: 30_000 };

/** Opens a WebSocket with the given headers and resolves with the upstream that accepted it (or the refusal status). */
async function upgrade(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; ws?: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
  const opened = once(ws, 'open').then(() => ({ status: 101, ws }));
  const refused = once(ws, 'unexpected-response').then(([, response]) => ({ status: (response as IncomingMessage).statusCode ?? 0 }));
  ws.on('error', () => {});
  return Promise.race([opened, refused]);
}

/** A plain GET with a raw Host header (undici would normalise it). */
async function rawGet(port: number, host: string, path: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await once(socket, 'close');
  return text;
}

describe('one host normaliser for proxy, WebSockets and routes --explain', bounded, () => {
  let site: WsUpstream;
  let other: WsUpstream;
  let wd: RunningWarpdrive;
  let file: string;

  before(async () => {
    site = await startWsUpstream('site');
    other = await startWsUpstream('other');
    file = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.site]
${site.toml}

[upstreams.other]
${other.toml}

[[routes]]
host = "example.com"
upstream = "site"

[[routes]]
upstream = "other"
`);
    wd = await startWarpdrive(file);
  });
  after(async () => {
    await wd?.stop();
    await site?.close();
    await other?.close();
  });

  test('"Example.COM.:8080" (case, trailing dot, port) is example.com on all three paths', bounded, async () => {
    const host = 'Example.COM.:8080';
    const http = await rawGet(wd.port, host, '/page');
    assert.match(http, /\r\n\r\nsite$/, `the proxy routed to "site":\n${http}`);
    const handshakes = site.handshakes.length;
    const ws = await upgrade(wd.port, '/cable', { host });
    assert.equal(ws.status, 101);
    assert.equal(site.handshakes.length, handshakes + 1, 'the upgrade reached "site"');
    ws.ws!.close();
    const explained = await runCli(['routes', '--config', file, '--explain', `GET http://${host}/page`]);
    assert.equal(explained.code, 0, explained.stderr);
    assert.match(explained.stdout, /Route #1 matches: upstream "site"/);
  });
});

describe('ip_hash keeps a user\'s page and its WebSocket on one instance behind a trusted proxy', bounded, () => {
  let instances: WsUpstream[];
  let wd: RunningWarpdrive;

  before(async () => {
    instances = [await startWsUpstream('i0'), await startWsUpstream('i1')];
    wd = await startWarpdrive(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[middleware]
trusted_proxies = ["127.0.0.1"]

[upstreams.app]
strategy = "ip_hash"
${instances.map((i) => `[[upstreams.app.instances]]\n${i.toml}\n`).join('')}

[[routes]]
upstream = "app"
`),
    );
  });
  after(async () => {
    await wd?.stop();
    for (const i of instances ?? []) await i.close();
  });

  test('the same X-Forwarded-For client lands on the same instance for HTTP and for the upgrade', bounded, async () => {
    // Clients behind the trusted load balancer (127.0.0.1), spread over both instances.
    const byInstance = new Map<string, string>();
    for (let n = 1; n <= 40 && byInstance.size < 2; n++) {
      const client = `203.0.113.${n}`;
      const res = await request(`${wd.url}/page`, { headers: { 'x-forwarded-for': client } });
      const name = await res.body.text();
      if (!byInstance.has(name)) byInstance.set(name, client);
    }
    assert.equal(byInstance.size, 2, 'the clients spread over both instances');
    for (const [name, client] of byInstance) {
      const upstream = instances.find((i) => i.name === name)!;
      const before = upstream.handshakes.length;
      const ws = await upgrade(wd.port, '/cable', { 'x-forwarded-for': client });
      assert.equal(ws.status, 101);
      assert.equal(upstream.handshakes.length, before + 1, `${client}'s WebSocket went to ${name}, like its page`);
      ws.ws!.close();
    }
  });
});
