/**
 * Static files against a real public/ tree: what is served, redirected, passed on
 * to the upstream or refused; precompressed siblings by Accept-Encoding; cache
 * headers for fingerprinted assets; the small-file cache and its revalidation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { ContentCoding } from '../../src/compression/accept-encoding.js';
import { defaultCompressibleTypes } from '../../src/compression/compressible-types.js';
import { CompressionPolicy } from '../../src/compression/compression-policy.js';
import { FileRoot } from '../../src/files/file-root.js';
import { SmallFileCache } from '../../src/files/small-file-cache.js';
import { DEFAULT_FINGERPRINT_PATTERN, IMMUTABLE_CACHE_CONTROL, StaticFiles, type StaticOutcome } from '../../src/files/static-files.js';
import { CollectingWriter } from '../helpers/collecting-writer.js';

let base: string;
let pub: string;
let clock = 0;
let cache: SmallFileCache;
let files: StaticFiles;
let uncached: StaticFiles;
const big = randomBytes(300 * 1024);
const css = 'body { color: red; }\n'.repeat(50);
const ASSET = '/assets/application-3f2a9c1b.css';

before(() => {
  base = mkdtempSync(join(tmpdir(), 'wd-static-'));
  pub = join(base, 'public');
  mkdirSync(join(pub, 'assets'), { recursive: true });
  mkdirSync(join(pub, 'docs'));
  mkdirSync(join(pub, 'empty-dir'));
  mkdirSync(join(pub, '.well-known'));
  writeFileSync(join(pub, 'index.html'), '<h1>home</h1>');
  writeFileSync(join(pub, 'docs', 'index.html'), '<h1>docs</h1>');
  writeFileSync(join(pub, 'robots.txt'), 'User-agent: *\n');
  writeFileSync(join(pub, '.env'), 'SECRET=1');
  writeFileSync(join(pub, '.well-known', 'security.txt'), 'Contact: x');
  writeFileSync(join(pub, 'big.bin'), big);
  writeFileSync(join(pub, ASSET.slice(1)), css);
  writeFileSync(join(pub, `${ASSET.slice(1)}.br`), zlib.brotliCompressSync(css));
  writeFileSync(join(pub, `${ASSET.slice(1)}.gz`), zlib.gzipSync(css));
  writeFileSync(join(pub, 'assets', 'only-gz.js'), 'console.log(1)\n'.repeat(40));
  writeFileSync(join(pub, 'assets', 'only-gz.js.gz'), zlib.gzipSync('console.log(1)\n'.repeat(40)));
  writeFileSync(join(base, 'secret.txt'), 'secret');
  symlinkSync(join(base, 'secret.txt'), join(pub, 'escape.txt'));
  symlinkSync('/dev/null', join(pub, 'null'));
  execFileSync('mkfifo', [join(pub, 'fifo')]);
  cache = new SmallFileCache({ maxBytes: 1024 * 1024, maxFileBytes: 64 * 1024, revalidateMs: 1000, now: () => clock });
  const root = FileRoot.resolve(pub);
  const fingerprintPattern = new RegExp(DEFAULT_FINGERPRINT_PATTERN);
  files = new StaticFiles({ root, serveDotfiles: false, fingerprintPattern, cache });
  uncached = new StaticFiles({ root, serveDotfiles: false, fingerprintPattern, cache: undefined });
});

after(() => rmSync(base, { recursive: true, force: true }));

const reader = (headers: Record<string, string>) => ({ get: (name: string) => headers[name] });

function lookup(path: string, headers: Record<string, string> = {}, method = 'GET', engine = files, query = ''): StaticOutcome {
  return engine.lookup(method, path, path, query, reader(headers));
}

function headersOf(outcome: StaticOutcome): Record<string, string> {
  assert.equal(outcome.kind, 'serve');
  if (outcome.kind !== 'serve') return {};
  const flat = outcome.response.headers;
  return Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!]));
}

async function bodyOf(outcome: StaticOutcome): Promise<Buffer> {
  assert.equal(outcome.kind, 'serve');
  if (outcome.kind !== 'serve' || outcome.body === undefined) return Buffer.alloc(0);
  const sink = new CollectingWriter();
  outcome.body.start(sink);
  await sink.settled();
  assert.equal(sink.ended, true);
  return sink.body();
}

for (const [name, engine] of [['cached', () => files], ['uncached', () => uncached]] as const) {
  describe(`StaticFiles (${name})`, () => {
    test('a file: 200 with type, validators and its bytes', async () => {
      const outcome = lookup('/robots.txt', {}, 'GET', engine());
      assert.equal(outcome.kind === 'serve' && outcome.response.status, 200);
      const headers = headersOf(outcome);
      assert.equal(headers['content-type'], 'text/plain; charset=utf-8');
      assert.match(headers.etag!, /^"[0-9a-f]+-e"$/);
      assert.ok(headers['last-modified']);
      assert.equal(headers['cache-control'], undefined);
      assert.equal(headers.vary, undefined);
      assert.equal((await bodyOf(outcome)).toString(), 'User-agent: *\n');
    });

    test('/ and /docs/ are served by their index.html', async () => {
      assert.equal((await bodyOf(lookup('/', {}, 'GET', engine()))).toString(), '<h1>home</h1>');
      const docs = lookup('/docs/', {}, 'GET', engine());
      assert.equal(headersOf(docs)['content-type'], 'text/html; charset=utf-8');
      assert.equal((await bodyOf(docs)).toString(), '<h1>docs</h1>');
    });

    test('/docs redirects to /docs/, keeping the query', () => {
      assert.deepEqual(lookup('/docs', {}, 'GET', engine(), 'page=2'), { kind: 'redirect', location: '/docs/?page=2' });
      assert.deepEqual(lookup('/docs', {}, 'GET', engine()), { kind: 'redirect', location: '/docs/' });
    });

    test('passed on to the upstream: missing files, index-less directories, other methods, hidden and unsafe paths', () => {
      for (const path of ['/missing.html', '/users/1', '/empty-dir', '/empty-dir/', '/robots.txt/x', '/.env', '/%2e%2e/secret.txt', '/a%2fb', '/assets']) {
        assert.deepEqual(lookup(path, {}, 'GET', engine()), { kind: 'pass' }, path);
      }
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) assert.deepEqual(lookup('/robots.txt', {}, method, engine()), { kind: 'pass' }, method);
    });

    test('.well-known is not hidden', async () => {
      assert.equal((await bodyOf(lookup('/.well-known/security.txt', {}, 'GET', engine()))).toString(), 'Contact: x');
    });

    test('refused (404, never passed on): symlink out of the root, device, FIFO', () => {
      assert.deepEqual(lookup('/escape.txt', {}, 'GET', engine()), { kind: 'refused', reason: 'a symlink leading outside every allowed root' });
      assert.deepEqual(lookup('/null', {}, 'GET', engine()), { kind: 'refused', reason: 'not a regular file (device, FIFO or socket)' });
      assert.deepEqual(lookup('/fifo', {}, 'GET', engine()), { kind: 'refused', reason: 'not a regular file (device, FIFO or socket)' });
    });

    test('HEAD: the GET head and no body', () => {
      const outcome = lookup('/robots.txt', {}, 'HEAD', engine());
      assert.equal(outcome.kind === 'serve' && outcome.response.contentLength, 14);
      assert.equal(outcome.kind === 'serve' && outcome.body, undefined);
    });

    test('precompressed siblings by Accept-Encoding, with Vary and immutable caching', async () => {
      const br = lookup(ASSET, { 'accept-encoding': 'gzip, deflate, br' }, 'GET', engine());
      assert.deepEqual(
        { ...headersOf(br), etag: 'x', 'last-modified': 'x' },
        { 'content-type': 'text/css; charset=utf-8', etag: 'x', 'last-modified': 'x', 'accept-ranges': 'bytes', 'cache-control': IMMUTABLE_CACHE_CONTROL, vary: 'Accept-Encoding', 'content-encoding': 'br' },
      );
      assert.equal(zlib.brotliDecompressSync(await bodyOf(br)).toString(), css);

      const gz = lookup(ASSET, { 'accept-encoding': 'gzip' }, 'GET', engine());
      assert.equal(headersOf(gz)['content-encoding'], 'gzip');
      assert.notEqual(headersOf(gz).etag, headersOf(br).etag, 'each encoding has its own ETag');
      assert.equal(zlib.gunzipSync(await bodyOf(gz)).toString(), css);

      const preferGzip = lookup(ASSET, { 'accept-encoding': 'br;q=0.5, gzip' }, 'GET', engine());
      assert.equal(headersOf(preferGzip)['content-encoding'], 'gzip');

      for (const accept of [undefined, 'identity', 'br;q=0, gzip;q=0', 'deflate']) {
        const plain = lookup(ASSET, accept === undefined ? {} : { 'accept-encoding': accept }, 'GET', engine());
        assert.equal(headersOf(plain)['content-encoding'], undefined, String(accept));
        assert.equal(headersOf(plain).vary, 'Accept-Encoding', String(accept));
        assert.equal((await bodyOf(plain)).toString(), css);
      }

      const onlyGz = lookup('/assets/only-gz.js', { 'accept-encoding': 'br, gzip' }, 'GET', engine());
      assert.equal(headersOf(onlyGz)['content-encoding'], 'gzip');
      assert.equal(headersOf(onlyGz)['cache-control'], undefined, 'not fingerprinted');
    });

    test('conditional and range requests', async () => {
      const first = headersOf(lookup('/robots.txt', {}, 'GET', engine()));
      const revalidated = lookup('/robots.txt', { 'if-none-match': first.etag! }, 'GET', engine());
      assert.equal(revalidated.kind === 'serve' && revalidated.response.status, 304);
      assert.equal(revalidated.kind === 'serve' && revalidated.body, undefined);
      const byDate = lookup('/robots.txt', { 'if-modified-since': first['last-modified']! }, 'GET', engine());
      assert.equal(byDate.kind === 'serve' && byDate.response.status, 304);
      const range = lookup('/robots.txt', { range: 'bytes=0-9' }, 'GET', engine());
      assert.equal(range.kind === 'serve' && range.response.status, 206);
      assert.equal((await bodyOf(range)).toString(), 'User-agent');
    });

    test('a file larger than the cache limit streams from disk', async () => {
      const outcome = lookup('/big.bin', {}, 'GET', engine());
      assert.deepEqual(await bodyOf(outcome), big);
      const tail = lookup('/big.bin', { range: 'bytes=-10' }, 'GET', engine());
      assert.deepEqual(await bodyOf(tail), big.subarray(-10));
    });
  });
}

describe('the small-file cache', () => {
  test('serves from memory within the revalidation window, then picks up a changed file', async () => {
    const path = join(pub, 'changing.txt');
    writeFileSync(path, 'version one');
    clock = 10_000;
    assert.equal((await bodyOf(lookup('/changing.txt'))).toString(), 'version one');
    writeFileSync(path, 'version two!');
    clock = 10_500;
    assert.equal((await bodyOf(lookup('/changing.txt'))).toString(), 'version one', 'within 1 s: from memory');
    clock = 11_000;
    assert.equal((await bodyOf(lookup('/changing.txt'))).toString(), 'version two!', 'after 1 s: stat saw the change');
  });

  test('a cached file that is deleted is passed on after the window', async () => {
    const path = join(pub, 'deleted.txt');
    writeFileSync(path, 'here');
    clock = 20_000;
    assert.equal((await bodyOf(lookup('/deleted.txt'))).toString(), 'here');
    rmSync(path);
    clock = 21_000;
    assert.deepEqual(lookup('/deleted.txt'), { kind: 'pass' });
  });

  test('a cached file replaced by a symlink out of the root is refused after the window', async () => {
    const path = join(pub, 'swapped.txt');
    writeFileSync(path, 'fine');
    clock = 30_000;
    assert.equal((await bodyOf(lookup('/swapped.txt'))).toString(), 'fine');
    rmSync(path);
    symlinkSync(join(base, 'secret.txt'), path);
    clock = 31_000;
    assert.equal(lookup('/swapped.txt').kind, 'refused');
  });

  test('bounded: least recently used entries are evicted', () => {
    let now = 0;
    const small = new SmallFileCache({ maxBytes: 100, maxFileBytes: 60, now: () => now });
    const entry = (bytes: number) => ({ ino: 1, size: bytes, mtimeMs: 0, validators: { etag: '""', lastModified: '', lastModifiedSecs: 0 }, body: Buffer.alloc(bytes), siblings: 0 });
    small.set('/a', entry(40));
    small.set('/b', entry(40));
    assert.ok(small.get('/a')); // a is now more recent than b
    small.set('/c', entry(40));
    assert.equal(small.bytes, 80);
    assert.equal(small.size, 2);
    now = 1; // within the window: no stat
    assert.ok(small.get('/a'));
    assert.equal(small.get('/b'), undefined);
    assert.ok(small.get('/c'));
    small.set('/too-big', entry(61));
    assert.equal(small.get('/too-big'), undefined);
    assert.equal(small.bytes, 80);
  });
});

describe('compressible cached files, with compression on', () => {
  const text = 'a line of a static text file that compresses well\n'.repeat(100);
  let compressing: StaticFiles;
  let compressingCache: SmallFileCache;
  before(() => {
    writeFileSync(join(pub, 'guide.txt'), text);
    writeFileSync(join(pub, 'tiny.txt'), 'tiny');
    writeFileSync(join(pub, 'image.png'), randomBytes(5000));
    compressingCache = new SmallFileCache({ maxBytes: 1024 * 1024, maxFileBytes: 64 * 1024 });
    compressing = new StaticFiles({
      root: FileRoot.resolve(pub),
      serveDotfiles: false,
      fingerprintPattern: undefined,
      cache: compressingCache,
      compression: { policy: new CompressionPolicy({ codings: [ContentCoding.Brotli, ContentCoding.Gzip], types: defaultCompressibleTypes, minBytes: 1024 }), levels: { gzip: 5, brotli: 4 } },
    });
  });

  test('compressed once per coding, kept with the cache entry, with a weak ETag and Vary', async () => {
    const first = lookup('/guide.txt', { 'accept-encoding': 'gzip' }, 'GET', compressing);
    const headers = headersOf(first);
    assert.equal(headers['content-encoding'], 'gzip');
    assert.equal(headers.vary, 'Accept-Encoding');
    assert.match(headers.etag!, /^W\/"/);
    const firstBody = await bodyOf(first);
    assert.equal(zlib.gunzipSync(firstBody).toString(), text);
    const bytesAfterFirst = compressingCache.bytes;
    assert.equal(bytesAfterFirst, text.length + firstBody.length, 'the compressed form is counted in the cache');
    const again = await bodyOf(lookup('/guide.txt', { 'accept-encoding': 'gzip' }, 'GET', compressing));
    assert.deepEqual(again, firstBody);
    assert.equal(compressingCache.bytes, bytesAfterFirst, 'not compressed again');
    const br = lookup('/guide.txt', { 'accept-encoding': 'br, gzip' }, 'GET', compressing);
    assert.equal(headersOf(br)['content-encoding'], 'br');
    assert.equal(zlib.brotliDecompressSync(await bodyOf(br)).toString(), text);
    const revalidated = lookup('/guide.txt', { 'accept-encoding': 'gzip', 'if-none-match': headers.etag! }, 'GET', compressing);
    assert.equal(revalidated.kind === 'serve' && revalidated.response.status, 304);
  });

  test('identity (with Vary) for a client without a coding, for HEAD and for a Range', async () => {
    for (const [headers, method] of [[{}, 'GET'], [{ 'accept-encoding': 'gzip' }, 'HEAD'], [{ 'accept-encoding': 'gzip', range: 'bytes=0-3' }, 'GET']] as const) {
      const outcome = lookup('/guide.txt', headers, method, compressing);
      assert.equal(headersOf(outcome)['content-encoding'], undefined, JSON.stringify(headers));
      assert.equal(headersOf(outcome).vary, 'Accept-Encoding');
      assert.match(headersOf(outcome).etag!, /^"/);
    }
  });

  test('too small or not compressible: left alone, no Vary', () => {
    for (const path of ['/tiny.txt', '/image.png']) {
      const headers = headersOf(lookup(path, { 'accept-encoding': 'gzip' }, 'GET', compressing));
      assert.equal(headers['content-encoding'], undefined, path);
      assert.equal(headers.vary, undefined, path);
    }
  });
});

describe('DEFAULT_FINGERPRINT_PATTERN', () => {
  const pattern = new RegExp(DEFAULT_FINGERPRINT_PATTERN);
  test('matches Propshaft, Sprockets and jsbundling digests', () => {
    for (const path of [
      '/assets/application-3f2a9c1b.css',
      '/assets/controllers/hello_controller-5d9c0e7a.js',
      `/assets/application-${'ab12'.repeat(16)}.js`,
      '/assets/application-0a1b2c3d.digested.js',
      '/assets/application-3f2a9c1b.css.map',
      '/assets/logo-deadbeef.svg',
    ]) {
      assert.match(path, pattern);
    }
  });
  test('does not match ordinary names', () => {
    for (const path of ['/assets/application.css', '/report-20240101.pdf', '/app-3f2a9c.css', '/assets/x-3f2a9c1b', '/blog/post-about-cafe1234', '/a-3f2a9c1bz.css']) {
      assert.doesNotMatch(path, pattern);
    }
  });
});
