/**
 * Graceful shutdown with open WebSockets: SIGTERM lets in-flight HTTP finish
 * first, then closes every WebSocket with 1001 (going away) on both sides.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from './ws-upstream.js';

describe('graceful shutdown with open WebSockets', () => {
  let ws: WsUpstream;
  let slow: http.Server;
  let wd: RunningWarpdrive;
  /** The slow HTTP request waits here until the test lets it finish. */
  let finishSlow: (() => void) | undefined;
  const slowArrived = new Promise<void>((resolve) => {
    slow = http.createServer((_req, res) => {
      finishSlow = () => res.end('slow done');
      resolve();
    });
  });

  before(async () => {
    ws = await startWsUpstream('ws');
    slow.listen(0, '127.0.0.1');
    await once(slow, 'listening');
    const config = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
shutdown_timeout_secs = 20

[upstreams.ws]
${ws.toml}

[upstreams.slow]
host = "127.0.0.1"
port = ${(slow.address() as AddressInfo).port}

[[routes]]
path_prefix = "/slow"
upstream = "slow"

[[routes]]
path_prefix = "/"
upstream = "ws"
`);
    wd = await startWarpdrive(config);
  });

  after(async () => {
    await wd?.stop();
    slow.closeAllConnections();
    slow.close();
    await ws?.close();
  });

  it('closes WebSockets with 1001 only after in-flight HTTP has finished, then exits 0', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${wd.port}/live`);
    await once(client, 'open');
    const events: string[] = [];
    const clientClosed = new Promise<[number, string]>((resolve) =>
      client.once('close', (code, reason) => {
        events.push('websocket closed');
        resolve([code, reason.toString()]);
      }),
    );
    const upstreamClosed = ws.handshakes.at(-1)!.closed;

    const slowResponse = request(`http://127.0.0.1:${wd.port}/slow`).then(async (res) => {
      const text = await res.body.text();
      events.push('http finished');
      return text;
    });
    await slowArrived;
    const exited = wd.stop();
    // The WebSocket keeps working while HTTP drains.
    await new Promise<void>((resolve) => {
      client.once('message', () => resolve());
      const waitForLog = setInterval(() => {
        if (wd.output().includes('no longer accepting')) {
          clearInterval(waitForLog);
          client.send('still here');
        }
      }, 20);
    });
    assert.deepEqual(events, []);
    finishSlow!();
    assert.equal(await slowResponse, 'slow done');
    assert.deepEqual(await clientClosed, [1001, 'server shutting down']);
    assert.deepEqual(await upstreamClosed, [1001, 'server shutting down']);
    assert.deepEqual(events, ['http finished', 'websocket closed']);
    assert.equal(await exited, 0);
  });
});
