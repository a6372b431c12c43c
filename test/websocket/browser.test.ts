/**
 * A real browser (Debian's headless Chromium, driven by playwright-core) opens
 * a WebSocket through warpdrive and echoes text and binary messages: browsers
 * are the clients that matter for WebSockets.
 *
 * Skipped (with the reason) when /usr/bin/chromium is not installed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from './ws-upstream.js';

const CHROMIUM = '/usr/bin/chromium';

describe('a browser through warpdrive', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  let upstream: WsUpstream;
  let wd: RunningWarpdrive;
  let browser: Browser;

  before(async () => {
    upstream = await startWsUpstream('cable');
    wd = await startWarpdrive(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.cable]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "cable"
`),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      timeout: 60_000,
    });
  });

  after(async () => {
    await browser?.close();
    await wd?.stop();
    await upstream?.close();
  });

  it('opens a WebSocket from a page served through warpdrive and echoes text and binary', async () => {
    const page = await browser.newPage();
    // The page comes through warpdrive too, so the WebSocket is same-origin as in production.
    const response = await page.goto(`http://127.0.0.1:${wd.port}/page`);
    assert.equal(await response!.text(), 'cable');
    const result = await page.evaluate(async (host) => {
      const ws = new WebSocket(`ws://${host}/cable?room=1`, ['chat.v1']);
      ws.binaryType = 'arraybuffer';
      const received: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => {
          ws.send('hello from the browser');
          ws.send(new Uint8Array([1, 2, 3, 250]));
        };
        ws.onmessage = (event) => {
          received.push(typeof event.data === 'string' ? event.data : Array.from(new Uint8Array(event.data as ArrayBuffer)));
          if (received.length === 2) resolve();
        };
        ws.onerror = () => reject(new Error('WebSocket error'));
      });
      const closed = new Promise<{ code: number; reason: string }>((resolve) => (ws.onclose = (e) => resolve({ code: e.code, reason: e.reason })));
      ws.send('close 4000 bye browser');
      return { protocol: ws.protocol, received, close: await closed };
    }, `127.0.0.1:${wd.port}`); // the page's own host (the project compiles without DOM types, so no `location`)
    assert.deepEqual(result, {
      protocol: 'chat.v1',
      received: ['hello from the browser', [1, 2, 3, 250]],
      close: { code: 4000, reason: 'bye browser' },
    });
    const shake = upstream.handshakes.at(-1)!;
    assert.equal(shake.url, '/cable?room=1');
    assert.equal(shake.headers.origin, `http://127.0.0.1:${wd.port}`);
    await page.close();
  });
});
