/**
 * HTTPS through the real CLI with certificates from files: SNI for three names
 * and a wildcard (checked with `openssl s_client`, an independent TLS stack),
 * a TLS alert for a name without a certificate, TLS 1.2+ only, the 308 from
 * plain HTTP (and a route that opts out), HSTS, X-Forwarded-Proto: https, and
 * wss:// echo, with two proxy threads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { WebSocket } from 'ws';

const CHROMIUM = '/usr/bin/chromium';
import { httpGet, httpsGet, sClient } from '../helpers/https-client.js';
import { issueCertificate, makeTestCa, type TestCa } from '../helpers/certificates.js';
import { echoHandler, startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { admin } from '../helpers/admin.js';
import path from 'node:path';
import { runCli, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';
import { startWsUpstream, type WsUpstream } from '../websocket/ws-upstream.js';

const bounded = { timeout: 60_000 };

describe('HTTPS with certificates from files', bounded, () => {
  let ca: TestCa;
  let app: TestUpstream;
  let ws: WsUpstream;
  let warpdrive: RunningWarpdrive;
  let httpsPort: number;
  let configFile: string;
  const adminSocket = path.join(tempDir('wd-https-admin-'), 'admin.sock');

  before(async () => {
    ca = makeTestCa();
    const certs = {
      a: issueCertificate(ca, ['a.test']),
      b: issueCertificate(ca, ['b.test']),
      c: issueCertificate(ca, ['c.test', 'www.c.test']),
      wild: issueCertificate(ca, ['*.wild.test']),
    };
    app = await startUpstream(echoHandler('app'));
    ws = await startWsUpstream('ws');
    const entry = (domains: string[], pair: { certFile: string; keyFile: string }): string =>
      `[[tls.certificates]]\ndomains = ${JSON.stringify(domains)}\ncert_file = "${pair.certFile}"\nkey_file = "${pair.keyFile}"\n`;
    configFile = writeConfig(`
[server]
http_port = 0
https_port = 0
bind_address = "127.0.0.1"
worker_threads = 2

[admin]
listen = ${JSON.stringify(adminSocket)}

[tls]
enabled = true
hsts_max_age_secs = 3600
${entry(['a.test'], certs.a)}
${entry(['b.test'], certs.b)}
${entry(['c.test', 'www.c.test'], certs.c)}
${entry(['*.wild.test'], certs.wild)}

[upstreams.app]
${app.toml}

[upstreams.ws]
${ws.toml}

[[routes]]
path_prefix = "/cable"
upstream = "ws"

[[routes]]
path_prefix = "/up"
upstream = "app"
https_redirect = false

[[routes]]
path_prefix = "/"
upstream = "app"
`);
    warpdrive = await startWarpdrive(configFile);
    httpsPort = Number(/listening on https:\/\/\S+:(\d+)/.exec(warpdrive.output())![1]);
  });

  after(async () => {
    await warpdrive?.stop();
    await app?.close();
    await ws?.close();
  });

  it('check lists each certificate file with its names and expiry', async () => {
    const { code, stdout, stderr } = await runCli(['check', '--config', configFile]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^https: https:\/\/127\.0\.0\.1:0 \(any free port\), TLS 1\.2-1\.3; plain HTTP redirected with 308 .*; HSTS max-age=3600$/m);
    assert.match(stdout, /^ {2}a\.test: file \/.*, expires \d{4}-.* \(in (9|10) day\(s\)\), issued by CN=warpdrive test CA; renew it yourself/m);
    assert.match(stdout, /^ {2}\*\.wild\.test: file /m);
  });

  it('/metrics shows when each served certificate expires', async () => {
    const m = (await admin(adminSocket, '/metrics')).text;
    const expiries = [...m.matchAll(/^warpdrive_tls_certificate_expiry_timestamp_seconds\{names="([^"]+)",source="[^"]+"\} (\d+)$/gm)];
    assert.deepEqual(expiries.map((e) => e[1]).sort(), ['*.wild.test', 'a.test', 'b.test', 'c.test,www.c.test']);
    // The test CA issues for about ten days (the check output above says 9 or 10).
    for (const [, , at] of expiries) assert.ok(Math.abs(Number(at) - (Date.now() / 1000 + 10 * 86400)) < 2 * 86400, `expiry ${at}`);
  });

  it('SNI: each of three names and a wildcard gets its own certificate, verified by openssl', async () => {
    for (const [name, subject] of [
      ['a.test', 'CN = a.test'],
      ['b.test', 'CN = b.test'],
      ['www.c.test', 'CN = c.test'],
      ['x.wild.test', 'CN = *.wild.test'],
      ['other.wild.test', 'CN = *.wild.test'],
    ] as const) {
      const result = await sClient(httpsPort, name, ca.certFile);
      assert.equal(result.subject, subject, `${name}:\n${result.output}`);
      assert.ok(result.verified, `${name} verifies against the CA:\n${result.output}`);
    }
  });

  it('a name with no certificate fails the handshake, and never gets another name\'s certificate', async () => {
    for (const name of ['unknown.test', 'wild.test']) {
      const result = await sClient(httpsPort, name, ca.certFile);
      assert.equal(result.subject, undefined, result.output);
      assert.match(result.output, /Cipher is \(NONE\)/, result.output);
    }
  });

  it('TLS 1.2 and 1.3 only', async () => {
    assert.equal((await sClient(httpsPort, 'a.test', ca.certFile, ['-tls1_2'])).protocol, 'TLSv1.2');
    assert.equal((await sClient(httpsPort, 'a.test', ca.certFile, ['-tls1_3'])).protocol, 'TLSv1.3');
    const old = await sClient(httpsPort, 'a.test', ca.certFile, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    assert.equal(old.subject, undefined);
    assert.match(old.output, /alert protocol version|no protocols available/);
  });

  it('proxies over HTTPS with X-Forwarded-Proto: https and HSTS', async () => {
    const answer = await httpsGet(httpsPort, 'b.test', '/hello?x=1', ca.certPem);
    assert.equal(answer.status, 200);
    assert.equal(answer.certificate.subject.CN, 'b.test');
    assert.equal(answer.headers['strict-transport-security'], 'max-age=3600');
    const seen = JSON.parse(answer.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-host'], 'b.test');
  });

  it('plain HTTP gets 308 to https:// on the HTTPS port, keeping path and query; no HSTS there', async () => {
    const response = await httpGet(warpdrive.port, 'a.test', '/some/path?q=1');
    assert.equal(response.status, 308);
    assert.equal(response.headers.location, `https://a.test:${httpsPort}/some/path?q=1`);
    assert.equal(response.headers['strict-transport-security'], undefined);
    const wildcard = await httpGet(warpdrive.port, 'deep.wild.test', '/');
    assert.equal(wildcard.status, 308);
    assert.equal(wildcard.headers.location, `https://deep.wild.test:${httpsPort}/`);
  });

  it('a route with https_redirect = false, and a host no certificate covers, are served over HTTP', async () => {
    const health = await httpGet(warpdrive.port, 'a.test', '/up');
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'http');
    const uncovered = await httpGet(warpdrive.port, 'plain.example', '/');
    assert.equal(uncovered.status, 200);
  });

  it('wss:// echoes through TLS, on every proxy thread', async () => {
    for (let i = 0; i < 6; i++) {
      // Connect to 127.0.0.1 as a browser that resolved a.test would, with SNI and Host a.test.
      const client = new WebSocket(`wss://127.0.0.1:${httpsPort}/cable`, { ca: ca.certPem, servername: 'a.test', headers: { host: `a.test:${httpsPort}` } } as import('ws').ClientOptions);
      await new Promise<void>((resolve, reject) => {
        client.once('open', resolve);
        client.once('error', reject);
      });
      const echoed = new Promise<string>((resolve) => client.once('message', (data) => resolve(String(data))));
      client.send(`hello ${i}`);
      assert.equal(await echoed, `hello ${i}`);
      client.close();
    }
    assert.equal(ws.handshakes.at(-1)!.headers['x-forwarded-proto'], 'https');
  });

  it('headless Chromium loads a page over HTTPS and echoes over wss:// (the chain is checked by openssl above)', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      // a.test resolves to 127.0.0.1, as DNS would make it; the test CA is not in Chromium's store, hence ignoreHTTPSErrors below.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--host-resolver-rules=MAP a.test 127.0.0.1'],
      timeout: 60_000,
    });
    try {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const response = await page.goto(`https://a.test:${httpsPort}/cable/page`);
      assert.equal(await response!.text(), 'ws');
      assert.equal((await response!.securityDetails())?.subjectName, 'a.test');
      const echoed = await page.evaluate(async (origin) => {
        const socket = new WebSocket(`wss://${origin}/cable/room`);
        return new Promise<string>((resolve, reject) => {
          socket.onopen = () => socket.send('hello over wss');
          socket.onmessage = (event) => resolve(String(event.data));
          socket.onerror = () => reject(new Error('WebSocket error'));
        });
      }, `a.test:${httpsPort}`);
      assert.equal(echoed, 'hello over wss');
      assert.equal(ws.handshakes.at(-1)!.headers['x-forwarded-proto'], 'https');
    } finally {
      await browser.close();
    }
  });
});
