/**
 * Response compression through the real CLI: every negotiation case, every
 * response that must be left alone, curl --compressed, server-sent events still
 * arriving event by event, a slow streamed page flushed before it ends, and a
 * large body compressed as it streams.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import zlib from 'node:zlib';
import { request } from 'undici';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const json = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, name: `customer ${i % 37}`, email: `user${i}@example.com`, status: i % 3 ? 'paid' : 'pending' })));
const html = `<!DOCTYPE html><html><body><table>${'<tr><td class="name">someone</td><td class="amount">$12.00</td></tr>\n'.repeat(300)}</table></body></html>`;
const png = randomBytes(50_000);
const bigJson = Buffer.from(JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ id: i, name: `customer ${i % 97}`, total: (i * 7919) % 100000 }))));

/** Tells a held-open upstream response to go on: one waiting action per name. */
const waiting = new Map<string, () => void>();
function whenTold(name: string): Promise<void> {
  return new Promise((resolve) => waiting.set(name, resolve));
}
function tell(name: string): void {
  const go = waiting.get(name);
  assert.ok(go, `the upstream is not waiting on ${name}`);
  waiting.delete(name);
  go();
}
/** Resolves once the upstream waits on `name` (it has written what came before). */
async function untilWaiting(name: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!waiting.has(name)) {
    if (Date.now() > deadline) throw new Error(`the upstream never reached ${name}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function app(req: http.IncomingMessage, res: http.ServerResponse): void {
  const fixed = (status: number, headers: Record<string, string>, body: Buffer | string) => {
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };
  switch (req.url) {
    case '/json':
      return fixed(200, { 'content-type': 'application/json; charset=utf-8', etag: '"v1"', 'accept-ranges': 'bytes', vary: 'Cookie' }, json);
    case '/json-chunked':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(json.slice(0, 1000));
      res.end(json.slice(1000));
      return;
    case '/html':
      return fixed(200, { 'content-type': 'text/html; charset=utf-8' }, html);
    case '/small':
      return fixed(200, { 'content-type': 'application/json' }, '{"ok":true}');
    case '/image':
      return fixed(200, { 'content-type': 'image/png' }, png);
    case '/no-type':
      return fixed(200, {}, json);
    case '/encoded':
      return fixed(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, zlib.gzipSync(json));
    case '/no-transform':
      return fixed(200, { 'content-type': 'application/json', 'cache-control': 'private, no-transform' }, json);
    case '/partial':
      return fixed(206, { 'content-type': 'application/json', 'content-range': `bytes 0-1999/${json.length}` }, json.slice(0, 2000));
    case '/no-content':
      res.writeHead(204, { 'content-type': 'application/json' });
      return void res.end();
    case '/not-modified':
      res.writeHead(304, { 'content-type': 'application/json', etag: '"v1"' });
      return void res.end();
    case '/big':
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let offset = 0; offset < bigJson.length; offset += 65536) res.write(bigJson.subarray(offset, offset + 65536));
      return void res.end();
    case '/sse':
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      void (async () => {
        for (let n = 1; n <= 3; n++) {
          await whenTold(`event ${n}`);
          res.write(`data: event ${n}\n\n`);
        }
        res.end();
      })();
      return;
    case '/slow-page':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.write('<html><head><title>streamed</title></head><body><p>first part</p>\n');
      void whenTold('second part').then(() => res.end('<p>second part</p></body></html>\n'));
      return;
    default:
      return fixed(404, { 'content-type': 'text/plain' }, 'no\n');
  }
}

let upstream: TestUpstream;
let wd: RunningWarpdrive;
let gzipOnly: RunningWarpdrive;

function config(extra: string): string {
  return writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "app"

[middleware]
gzip_compression_enabled = true
${extra}
`);
}

before(async () => {
  upstream = await startUpstream(app);
  wd = await startWarpdrive(config(''));
  gzipOnly = await startWarpdrive(config('compression = ["gzip"]\ncompression_gzip_level = 1'));
});

after(async () => {
  await Promise.all([wd?.stop(), gzipOnly?.stop()]);
  await upstream?.close();
});

async function get(target: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET', server = wd) {
  const res = await request(`${server.url}${target}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

function decode(encoding: unknown, body: Buffer): string {
  if (encoding === 'br') return zlib.brotliDecompressSync(body).toString();
  if (encoding === 'gzip') return zlib.gunzipSync(body).toString();
  assert.equal(encoding, undefined);
  return body.toString();
}

describe('negotiation', () => {
  const cases: [acceptEncoding: string | undefined, both: string, gzipOnlyServer: string][] = [
    [undefined, 'identity', 'identity'],
    ['gzip, deflate, br, zstd', 'br', 'gzip'],
    ['gzip', 'gzip', 'gzip'],
    ['br', 'br', 'identity'],
    ['x-gzip', 'gzip', 'gzip'],
    ['deflate', 'identity', 'identity'],
    ['*', 'br', 'gzip'],
    ['*;q=0', 'identity', 'identity'],
    ['identity;q=0', 'identity', 'identity'],
    ['br;q=0.5, gzip;q=0.8', 'gzip', 'gzip'],
    ['br;q=0, gzip', 'gzip', 'gzip'],
    ['gzip;q=0.5, identity;q=1', 'identity', 'identity'],
    ['gzip;q=abc', 'identity', 'identity'],
  ];
  for (const [accept, both, onlyGzip] of cases) {
    test(`Accept-Encoding ${JSON.stringify(accept)}: ${both} (br, gzip offered), ${onlyGzip} (gzip only)`, async () => {
      for (const [server, expected] of [[wd, both], [gzipOnly, onlyGzip]] as const) {
        const res = await get('/json', accept === undefined ? {} : { 'accept-encoding': accept }, 'GET', server);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-encoding'] ?? 'identity', expected);
        assert.equal(res.headers.vary, 'Cookie, Accept-Encoding', 'Vary added whatever the client sent');
        assert.equal(decode(res.headers['content-encoding'], res.body), json);
        if (expected === 'identity') {
          assert.equal(res.headers['content-length'], String(json.length));
          assert.equal(res.headers.etag, '"v1"');
        } else {
          assert.equal(res.headers['content-length'], undefined, 'chunked');
          assert.equal(res.headers['transfer-encoding'], 'chunked');
          assert.equal(res.headers.etag, 'W/"v1"', 'strong ETag made weak');
          assert.equal(res.headers['accept-ranges'], undefined);
        }
      }
    });
  }

  test('curl --compressed gets brotli and decodes it', async () => {
    // Asynchronously: the upstream lives in this process and must go on answering.
    const out = (await promisify(execFile)('curl', ['-s', '--compressed', '-D', '-', `${wd.url}/html`])).stdout;
    assert.match(out, /^content-encoding: br\r$/im);
    assert.match(out, /^vary: Accept-Encoding\r$/im);
    assert.ok(out.endsWith(html), 'decoded body');
  });

  test('a chunked upstream body (no length) is compressed', async () => {
    const res = await get('/json-chunked', { 'accept-encoding': 'gzip' });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(decode('gzip', res.body), json);
  });
});

describe('left alone', () => {
  const cases: [target: string, why: string, vary: boolean][] = [
    ['/small', 'below compression_min_bytes', false],
    ['/image', 'not a compressible type', false],
    ['/no-type', 'no Content-Type', false],
    ['/encoded', 'already encoded', false],
    ['/no-transform', 'Cache-Control: no-transform', false],
    ['/partial', '206', false],
  ];
  for (const [target, why, vary] of cases) {
    test(`${target}: ${why}`, async () => {
      const res = await get(target, { 'accept-encoding': 'gzip, br' });
      assert.equal(res.headers['content-encoding'], target === '/encoded' ? 'gzip' : undefined);
      assert.equal(res.headers.vary !== undefined, vary);
      assert.equal(res.headers['content-length'], String(res.body.length));
    });
  }

  test('204 and 304 pass untouched', async () => {
    const noContent = await get('/no-content', { 'accept-encoding': 'gzip' });
    assert.equal(noContent.status, 204);
    assert.equal(noContent.headers['content-encoding'], undefined);
    const notModified = await get('/not-modified', { 'accept-encoding': 'gzip' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers['content-encoding'], undefined);
    assert.equal(notModified.headers.etag, '"v1"');
  });

  test('HEAD: the head of an uncompressed GET, with Vary', async () => {
    const res = await get('/json', { 'accept-encoding': 'gzip, br' }, 'HEAD');
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers['content-length'], String(json.length));
    assert.equal(res.headers.vary, 'Cookie, Accept-Encoding');
    assert.equal(res.body.length, 0);
  });
});

describe('streaming', () => {
  test('server-sent events arrive event by event, uncompressed, with compression on', { timeout: 10_000 }, async () => {
    // uWS sends a response head only with its first body bytes (native-notes), so the
    // head comes with the first event.
    const responding = request(`${wd.url}/sse`, { headers: { 'accept-encoding': 'gzip, br' } });
    await untilWaiting('event 1');
    tell('event 1');
    const res = await responding;
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(res.headers['content-encoding'], undefined);
    const reader = res.body[Symbol.asyncIterator]();
    for (let n = 1; n <= 3; n++) {
      if (n > 1) {
        await untilWaiting(`event ${n}`);
        tell(`event ${n}`);
      }
      // The next event is only sent once this one has arrived: nothing can be held back.
      const { value } = await reader.next();
      assert.equal(Buffer.from(value as Buffer).toString(), `data: event ${n}\n\n`);
    }
    assert.equal((await reader.next()).done, true);
  });

  test('a slowly streamed page is flushed: its first part arrives, decodable, before the upstream sends the rest', { timeout: 10_000 }, async () => {
    for (const [accept, makeDecoder] of [
      ['gzip', () => zlib.createGunzip()],
      ['br', () => zlib.createBrotliDecompress()],
    ] as const) {
      const res = await request(`${wd.url}/slow-page`, { headers: { 'accept-encoding': accept } });
      assert.equal(res.headers['content-encoding'], accept);
      const decoder = makeDecoder();
      let text = '';
      decoder.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const firstPart = new Promise<void>((resolve) => decoder.on('data', () => text.includes('first part') && resolve()));
      const ended = new Promise<void>((resolve) => decoder.on('end', resolve));
      res.body.pipe(decoder);
      // The upstream holds the rest back until told: only a flush can deliver the first part.
      await firstPart;
      assert.ok(!text.includes('second part'));
      await untilWaiting('second part');
      tell('second part');
      await ended;
      assert.equal(text, '<html><head><title>streamed</title></head><body><p>first part</p>\n<p>second part</p></body></html>\n');
    }
  });

  test('a 3 MiB body streamed from the upstream arrives whole through brotli', async () => {
    const res = await get('/big', { 'accept-encoding': 'br' });
    assert.equal(res.headers['content-encoding'], 'br');
    assert.ok(res.body.length < bigJson.length / 3, `${res.body.length} compressed bytes`);
    assert.equal(decode('br', res.body), bigJson.toString());
  });
});
