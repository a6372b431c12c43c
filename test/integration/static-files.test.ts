/**
 * Static files through the real CLI: a `public/` tree beside the config file
 * (static_root is relative to it), a real upstream behind it for what is not a
 * file, real clients (undici, curl, a raw socket for paths clients would clean up).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { request } from 'undici';
import { rawExchange } from '../helpers/raw-http.js';
import { echoHandler, startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { runCli, startWarpdrive, type RunningWarpdrive } from '../helpers/warpdrive.js';

const SECRET = 'secret-outside-the-root';
const css = 'body { color: red; }\n'.repeat(200);
const guide = 'A guide that compresses well, with no precompressed sibling.\n'.repeat(100);
const ASSET = '/assets/application-3f2a9c1b.css';
const big = randomBytes(2 * 1024 * 1024);

let dir: string;
let upstream: TestUpstream;
let wd: RunningWarpdrive;

function makeTree(): void {
  const pub = path.join(dir, 'public');
  mkdirSync(path.join(pub, 'assets'), { recursive: true });
  mkdirSync(path.join(pub, 'docs'));
  mkdirSync(path.join(pub, 'empty'));
  mkdirSync(path.join(pub, '.well-known'));
  mkdirSync(path.join(dir, 'only'));
  writeFileSync(path.join(pub, 'index.html'), '<h1>home</h1>\n');
  writeFileSync(path.join(pub, 'docs', 'index.html'), '<h1>docs</h1>\n');
  writeFileSync(path.join(pub, 'robots.txt'), 'User-agent: *\nDisallow:\n');
  writeFileSync(path.join(pub, 'guide.txt'), guide);
  writeFileSync(path.join(pub, 'big.bin'), big);
  writeFileSync(path.join(pub, '.env'), `SECRET=${SECRET}`);
  writeFileSync(path.join(pub, '.well-known', 'security.txt'), 'Contact: mailto:security@example.com\n');
  writeFileSync(path.join(pub, ASSET.slice(1)), css);
  writeFileSync(path.join(pub, `${ASSET.slice(1)}.br`), zlib.brotliCompressSync(css));
  writeFileSync(path.join(pub, `${ASSET.slice(1)}.gz`), zlib.gzipSync(css));
  writeFileSync(path.join(dir, 'secret.txt'), SECRET);
  symlinkSync(path.join(dir, 'secret.txt'), path.join(pub, 'escape.txt'));
  symlinkSync(dir, path.join(pub, 'up'));
  symlinkSync('/dev/zero', path.join(pub, 'zero'));
  execFileSync('mkfifo', [path.join(pub, 'fifo')]);
  writeFileSync(path.join(dir, 'only', 'hello.txt'), 'files only\n');
}

before(async () => {
  dir = tempDir('wd-static-');
  makeTree();
  upstream = await startUpstream(echoHandler('app'));
  writeFileSync(
    path.join(dir, 'warpdrive.toml'),
    `
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/only"
strip_prefix = true
static_root = "only"

[[routes]]
path_prefix = "/"
upstream = "app"
static_root = "public"

[middleware]
gzip_compression_enabled = true
`,
  );
  wd = await startWarpdrive(path.join(dir, 'warpdrive.toml'));
});

after(async () => {
  await wd?.stop();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(target: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'POST' = 'GET') {
  const res = await request(`${wd.url}${target}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString() };
}

/** True when the upstream answered (the echo handler's JSON). */
function fromUpstream(text: string): { url: string } | undefined {
  try {
    const parsed = JSON.parse(text) as { name?: string; url: string };
    return parsed.name === 'app' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

describe('static files', () => {
  test('a file is served with its type, validators and length; the upstream is not asked', async () => {
    const res = await get('/robots.txt');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'User-agent: *\nDisallow:\n');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['content-length'], '24');
    assert.match(String(res.headers.etag), /^"[0-9a-f]+-18"$/);
    assert.ok(res.headers['last-modified']);
    assert.equal(res.headers['accept-ranges'], 'bytes');
  });

  test('HEAD: the same head, Content-Length of the file, no body', async () => {
    const res = await get('/robots.txt', {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '24');
    assert.equal(res.body.length, 0);
  });

  test('directories: index.html, and a redirect that adds the slash (query kept)', async () => {
    assert.equal((await get('/')).text, '<h1>home</h1>\n');
    assert.equal((await get('/docs/')).text, '<h1>docs</h1>\n');
    const redirect = await get('/docs?page=2');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/docs/?page=2');
  });

  test('fall-through to the upstream: missing files, index-less directories, other methods, hidden files', async () => {
    for (const target of ['/users/1', '/empty/', '/robots.txt/x', '/.env']) {
      const res = await get(target);
      assert.equal(res.status, 200, target);
      assert.equal(fromUpstream(res.text)?.url, target, `${target} went to the upstream`);
    }
    const post = await get('/robots.txt', {}, 'POST');
    assert.equal(fromUpstream(post.text)?.url, '/robots.txt');
  });

  test('.well-known is served, not hidden', async () => {
    assert.equal((await get('/.well-known/security.txt')).text, 'Contact: mailto:security@example.com\n');
  });

  test('refused with 404, never passed on: a symlink out of the root, a device, a FIFO; the warning is logged', async () => {
    for (const target of ['/escape.txt', '/up/secret.txt', '/zero', '/fifo']) {
      const res = await get(target);
      assert.equal(res.status, 404, target);
      assert.equal(res.text, 'Not Found\n', target);
    }
    assert.match(wd.output(), /\[static\] refused GET \/escape\.txt under .*: a symlink leading outside every allowed root/);
    assert.match(wd.output(), /\[static\] refused GET \/fifo under .*: not a regular file/);
  });

  test('traversal and encoding tricks never reach a file outside the root (raw socket)', async () => {
    const attempts = [
      '/../secret.txt',
      '/../../../../etc/passwd',
      '/%2e%2e/secret.txt',
      '/%2E%2E/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%2fsecret.txt',
      '/%252e%252e/secret.txt',
      '/assets%2f..%2f..%2fsecret.txt',
      '/.%2e/secret.txt',
      '/secret.txt%00.css',
      '/..\\secret.txt',
      '/up/secret.txt',
    ];
    for (const target of attempts) {
      const exchange = await rawExchange(wd.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, { until: 'close', timeoutMs: 3000 });
      const response = exchange.responses[0];
      assert.ok(response, `${target}: no response`);
      assert.ok(!exchange.raw.includes(SECRET), `${target} leaked the file outside the root`);
      // What each gets: 400 (unsafe path), 404 (refused) or the upstream (no such file under the root).
      assert.ok([200, 400, 404].includes(response.status), `${target}: ${response.status}`);
      if (response.status === 200) assert.ok(fromUpstream(response.body), `${target} was served as a file: ${response.body}`);
    }
  });

  test('precompressed siblings by Accept-Encoding, with Vary and immutable caching', async () => {
    const br = await get(ASSET, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), css);

    const gz = await get(ASSET, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), css);
    assert.notEqual(gz.headers.etag, br.headers.etag);

    const plain = await get(ASSET, { 'accept-encoding': 'identity' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    assert.equal(plain.text, css);
  });

  test('curl --compressed decodes a precompressed asset', () => {
    const out = execFileSync('curl', ['-s', '--compressed', '-D', '-', `${wd.url}${ASSET}`]).toString();
    assert.match(out, /content-encoding: (br|gzip)/i);
    assert.ok(out.endsWith(css), 'decoded body');
  });

  test('a compressible file without siblings is compressed once, with a weak ETag', async () => {
    const first = await get('/guide.txt', { 'accept-encoding': 'gzip' });
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.equal(first.headers.vary, 'Accept-Encoding');
    assert.match(String(first.headers.etag), /^W\/"/);
    assert.equal(zlib.gunzipSync(first.body).toString(), guide);
    const again = await get('/guide.txt', { 'accept-encoding': 'gzip' });
    assert.deepEqual(again.body, first.body);
    const notModified = await get('/guide.txt', { 'accept-encoding': 'gzip', 'if-none-match': String(first.headers.etag) });
    assert.equal(notModified.status, 304);
  });

  test('conditional requests: 304 by ETag and by date, 412 by If-Match', async () => {
    const first = await get('/robots.txt');
    const byTag = await get('/robots.txt', { 'if-none-match': String(first.headers.etag) });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body.length, 0);
    assert.equal(byTag.headers.etag, first.headers.etag);
    assert.equal((await get('/robots.txt', { 'if-modified-since': String(first.headers['last-modified']) })).status, 304);
    assert.equal((await get('/robots.txt', { 'if-match': '"something-else"' })).status, 412);
    assert.equal((await get('/robots.txt', { 'if-none-match': '"old"' })).status, 200);
  });

  test('ranges: one (206), several (multipart), none satisfiable (416), from a file streamed off disk', async () => {
    const one = await get('/big.bin', { range: 'bytes=1000-1999' });
    assert.equal(one.status, 206);
    assert.equal(one.headers['content-range'], `bytes 1000-1999/${big.length}`);
    assert.deepEqual(one.body, big.subarray(1000, 2000));
    const tail = await get('/big.bin', { range: 'bytes=-100' });
    assert.deepEqual(tail.body, big.subarray(-100));
    const several = await get('/robots.txt', { range: 'bytes=0-3,11-12' });
    assert.equal(several.status, 206);
    assert.match(String(several.headers['content-type']), /^multipart\/byteranges; boundary=/);
    assert.match(several.text, /content-range: bytes 0-3\/24\r\n\r\nUser\r\n/);
    assert.match(several.text, /content-range: bytes 11-12\/24\r\n\r\n \*\r\n--warpdrive-[0-9a-f]+--\r\n$/);
    assert.equal(several.body.length, Number(several.headers['content-length']));
    const none = await get('/big.bin', { range: `bytes=${big.length}-` });
    assert.equal(none.status, 416);
    assert.equal(none.headers['content-range'], `bytes */${big.length}`);
    const whole = await get('/big.bin');
    assert.deepEqual(whole.body, big);
  });

  test('a files-only route: files, else 404; other methods 405 with Allow', async () => {
    assert.equal((await get('/only/hello.txt')).text, 'files only\n');
    const missing = await get('/only/nope.txt');
    assert.equal(missing.status, 404);
    assert.equal(fromUpstream(missing.text), undefined);
    const post = await get('/only/hello.txt', {}, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  test('a changed file is served new within the cache revalidation window (1 s)', async () => {
    writeFileSync(path.join(dir, 'public', 'changing.txt'), 'version one\n');
    assert.equal((await get('/changing.txt')).text, 'version one\n');
    writeFileSync(path.join(dir, 'public', 'changing.txt'), 'version two, longer\n');
    // The cache may serve the old bytes for up to its revalidation window; never longer.
    const deadline = Date.now() + 2500;
    let text = '';
    while (Date.now() < deadline && (text = (await get('/changing.txt')).text) !== 'version two, longer\n') {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(text, 'version two, longer\n');
  });
});

describe('static files across a reload', () => {
  test('a new static_root takes effect; a reload naming a missing one is refused and the old root keeps serving', async () => {
    const reloadDir = tempDir('wd-static-reload-');
    for (const name of ['a', 'b']) {
      mkdirSync(path.join(reloadDir, `public-${name}`));
      writeFileSync(path.join(reloadDir, `public-${name}`, 'which.txt'), `${name}\n`);
    }
    const file = path.join(reloadDir, 'warpdrive.toml');
    const configFor = (root: string) => `
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "app"
static_root = "${root}"
`;
    writeFileSync(file, configFor('public-a'));
    const running = await startWarpdrive(file);
    try {
      const which = async () => (await (await request(`${running.url}/which.txt`)).body.text());
      assert.equal(await which(), 'a\n');
      writeFileSync(file, configFor('public-b'));
      const reloaded = await runCli(['reload', '--config', file]);
      assert.equal(reloaded.code, 0, reloaded.stderr);
      assert.equal(await which(), 'b\n');
      writeFileSync(file, configFor('public-gone'));
      const refused = await runCli(['reload', '--config', file]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /routes\[0\]\.static_root: directory not found: .*public-gone/);
      assert.equal(await which(), 'b\n');
    } finally {
      await running.stop();
      rmSync(reloadDir, { recursive: true, force: true });
    }
  });
});
