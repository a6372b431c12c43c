/**
 * X-Sendfile and X-Accel-Redirect through the real CLI, with a Rails-like upstream
 * that answers as Rack::Sendfile does (test/helpers/rack-sendfile.ts): it reads the
 * X-Sendfile-Type and X-Accel-Mapping warpdrive sends and names the file; warpdrive
 * serves it. Also: every refusal keeps the internal path away from the client, and a
 * 1 GiB download keeps warpdrive's memory flat.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { request } from 'undici';
import { rawExchange } from '../helpers/raw-http.js';
import { sendFileLikeRails } from '../helpers/rack-sendfile.js';
import { startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { startWarpdrive, type RunningWarpdrive } from '../helpers/warpdrive.js';

const GIB = 1024 * 1024 * 1024;
const PEAK_RSS_LIMIT = 256 * 1024 * 1024;
const report = randomBytes(300 * 1024);
const csv = 'id,name,total\n' + Array.from({ length: 3000 }, (_, i) => `${i},customer ${i % 97},${(i * 7919) % 100000}`).join('\n') + '\n';

let dir: string;
let privateDir: string;
let upstream: TestUpstream;
/** X-Accel-Redirect with a mapping (the Rails + nginx setup), compression on. */
let accel: RunningWarpdrive;
/** Plain X-Sendfile with a root. */
let plain: RunningWarpdrive;
/** Off: a client's X-Sendfile-Type must still not reach the app. */
let off: RunningWarpdrive;
/** What the upstream saw last. */
let seen: http.IncomingHttpHeaders = {};

function peakRssBytes(pid: number): number {
  const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(kib, 'VmHWM in /proc status');
  return Number(kib[1]) * 1024;
}

/** The Rails-like app: /reports/:name sends a file from private/, /evil?h=...&v=... answers any header. */
function app(req: http.IncomingMessage, res: http.ServerResponse): void {
  seen = req.headers;
  const url = new URL(req.url!, 'http://app');
  if (url.pathname.startsWith('/reports/')) {
    const name = decodeURIComponent(url.pathname.slice('/reports/'.length));
    const type = name.endsWith('.csv') ? 'text/csv' : name.endsWith('.bin') ? 'application/octet-stream' : 'application/pdf';
    sendFileLikeRails(req, res, path.join(privateDir, name), type, { 'cache-control': 'private, max-age=60', 'set-cookie': 'session=abc; HttpOnly' });
    return;
  }
  if (url.pathname === '/evil') {
    res.writeHead(Number(url.searchParams.get('status') ?? 200), { [url.searchParams.get('h')!]: url.searchParams.get('v')!, 'content-type': 'text/html', 'content-length': '0' });
    res.end();
    return;
  }
  if (url.pathname === '/not-found-page') {
    res.writeHead(404, { 'x-sendfile': path.join(privateDir, 'report.pdf'), 'content-type': 'text/plain', 'content-length': '10' });
    res.end('not found\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ headers: req.headers }));
}

function config(middleware: string): string {
  const file = path.join(dir, `warpdrive-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(
    file,
    `
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.app]
${upstream.toml}

[[routes]]
path_prefix = "/"
upstream = "app"

[middleware]
${middleware}
`,
  );
  return file;
}

before(async () => {
  dir = tempDir('wd-xsendfile-');
  privateDir = path.join(dir, 'storage', 'private');
  mkdirSync(privateDir, { recursive: true });
  mkdirSync(path.join(privateDir, 'sub'));
  writeFileSync(path.join(privateDir, 'report.pdf'), report);
  writeFileSync(path.join(privateDir, 'q3 report?.pdf'), report.subarray(0, 1000));
  writeFileSync(path.join(privateDir, 'numbers.csv'), csv);
  writeFileSync(path.join(dir, 'outside.txt'), 'outside the roots');
  symlinkSync(path.join(dir, 'outside.txt'), path.join(privateDir, 'escape.txt'));
  symlinkSync('/dev/zero', path.join(privateDir, 'zero'));
  // 1 GiB, sparse: no disk is written, reads return zeros.
  const fd = openSync(path.join(privateDir, 'huge.bin'), 'w');
  ftruncateSync(fd, GIB);
  closeSync(fd);
  upstream = await startUpstream(app);
  accel = await startWarpdrive(config('x_sendfile_enabled = true\nx_accel_mappings = [{ prefix = "/private/", root = "storage/private" }]\ngzip_compression_enabled = true'));
  plain = await startWarpdrive(config('x_sendfile_enabled = true\nx_sendfile_roots = ["storage/private"]'));
  off = await startWarpdrive(config(''));
});

after(async () => {
  await Promise.all([accel?.stop(), plain?.stop(), off?.stop()]);
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(wd: RunningWarpdrive, target: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'POST' = 'GET') {
  const res = await request(`${wd.url}${target}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString() };
}

describe('X-Accel-Redirect with a mapping (Rails behind warpdrive)', () => {
  test('the app is told X-Accel-Redirect and the mapping; it names the file; warpdrive sends it with the app\'s other headers', async () => {
    const res = await get(accel, '/reports/report.pdf');
    assert.equal(seen['x-sendfile-type'], 'X-Accel-Redirect');
    assert.equal(seen['x-accel-mapping'], `${privateDir}/=/private/`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, report);
    assert.equal(res.headers['content-type'], 'application/pdf');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="report.pdf"');
    assert.equal(res.headers['cache-control'], 'private, max-age=60');
    assert.equal(res.headers['set-cookie'], 'session=abc; HttpOnly');
    assert.equal(res.headers['content-length'], String(report.length));
    assert.match(String(res.headers.etag), /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(res.headers['last-modified']);
    assert.equal(res.headers['x-accel-redirect'], undefined);
  });

  test('a file name Rack had to escape (space, ?) arrives', async () => {
    const res = await get(accel, `/reports/${encodeURIComponent('q3 report?.pdf')}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, report.subarray(0, 1000));
  });

  test('HEAD, conditional requests and ranges are answered against the file', async () => {
    const head = await get(accel, '/reports/report.pdf', {}, 'HEAD');
    assert.equal(head.headers['content-length'], String(report.length));
    assert.equal(head.body.length, 0);
    const first = await get(accel, '/reports/report.pdf');
    const notModified = await get(accel, '/reports/report.pdf', { 'if-none-match': String(first.headers.etag) });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body.length, 0);
    const range = await get(accel, '/reports/report.pdf', { range: 'bytes=100-199' });
    assert.equal(range.status, 206);
    assert.equal(range.headers['content-range'], `bytes 100-199/${report.length}`);
    assert.deepEqual(range.body, report.subarray(100, 200));
    const unsatisfiable = await get(accel, '/reports/report.pdf', { range: 'bytes=999999999-' });
    assert.equal(unsatisfiable.status, 416);
  });

  test('a compressible file is compressed like any response (compression on); a range of it is not', async () => {
    const res = await get(accel, '/reports/numbers.csv', { 'accept-encoding': 'gzip' });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(res.body).toString(), csv);
    const range = await get(accel, '/reports/numbers.csv', { 'accept-encoding': 'gzip', range: 'bytes=0-1' });
    assert.equal(range.status, 206);
    assert.equal(range.headers['content-encoding'], undefined);
    assert.equal(range.text, 'id');
  });

  test('a 1 GiB download streams with flat memory', { timeout: 120_000 }, async () => {
    const res = await request(`${accel.url}/reports/huge.bin`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(GIB));
    let received = 0;
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    assert.equal(received, GIB);
    const peak = peakRssBytes(accel.child.pid!);
    assert.ok(peak < PEAK_RSS_LIMIT, `peak RSS ${Math.round(peak / 1048576)} MiB`);
  });
});

describe('plain X-Sendfile with a root', () => {
  test('the app is told X-Sendfile, answers with the absolute path, and the file is sent', async () => {
    const res = await get(plain, '/reports/report.pdf');
    assert.equal(seen['x-sendfile-type'], 'X-Sendfile');
    assert.equal(seen['x-accel-mapping'], undefined);
    assert.deepEqual(res.body, report);
    assert.equal(res.headers['x-sendfile'], undefined);
  });

  test('a POST answered with a file is served as GET would be', async () => {
    const res = await get(plain, '/reports/report.pdf', {}, 'POST');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, report);
  });

  test('on a status other than 200 the header goes and the app\'s body passes', async () => {
    const res = await get(plain, '/not-found-page');
    assert.equal(res.status, 404);
    assert.equal(res.text, 'not found\n');
    assert.equal(res.headers['x-sendfile'], undefined);
  });
});

describe('refusals: 403 (404 when missing), logged, the internal path never sent', () => {
  const cases: [name: string, header: string, value: () => string, status: number][] = [
    ['outside the roots', 'x-sendfile', () => '/etc/passwd', 403],
    ['.. out of a root', 'x-sendfile', () => `${privateDir}/../../outside.txt`, 403],
    ['a relative path', 'x-sendfile', () => 'storage/private/report.pdf', 403],
    ['a symlink leading out', 'x-sendfile', () => `${privateDir}/escape.txt`, 403],
    ['a device', 'x-sendfile', () => `${privateDir}/zero`, 403],
    ['a directory', 'x-sendfile', () => `${privateDir}/sub`, 403],
    ['a missing file', 'x-sendfile', () => `${privateDir}/nope.pdf`, 404],
    ['an encoded .. in a URI', 'x-accel-redirect', () => '/private/%2e%2e/%2e%2e/outside.txt', 403],
    ['an encoded / in a URI', 'x-accel-redirect', () => '/private/..%2f..%2foutside.txt', 403],
    ['a URI outside every mapping and root', 'x-accel-redirect', () => '/etc/passwd', 403],
  ];
  for (const [name, header, value, status] of cases) {
    test(`${name}: ${status}`, async () => {
      for (const wd of [accel, plain]) {
        const target = `/evil?h=${header}&v=${encodeURIComponent(value())}`;
        const exchange = await rawExchange(wd.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, { until: 'close', timeoutMs: 3000 });
        const response = exchange.responses[0];
        assert.ok(response, 'a response');
        assert.equal(response.status, status, exchange.raw);
        assert.equal(response.body, status === 403 ? 'Forbidden\n' : 'Not Found\n');
        for (const secret of [dir, 'passwd', '/private/', 'outside']) assert.ok(!exchange.raw.includes(secret), `the response mentions ${secret}:\n${exchange.raw}`);
      }
    });
  }

  test('the refusal is logged with the path the app named', () => {
    assert.match(accel.output(), /\[x-sendfile\] GET \/evil: the upstream named "\/etc\/passwd", refused \(outside every allowed root\): answered 403/);
  });
});

describe('X-Sendfile-Type and X-Accel-Mapping belong to warpdrive', () => {
  test('a client\'s own are dropped, with the feature on (replaced) and off (removed)', async () => {
    await get(accel, '/echo', { 'x-sendfile-type': 'X-Sendfile', 'x-accel-mapping': '/=/' });
    assert.equal(seen['x-sendfile-type'], 'X-Accel-Redirect');
    assert.equal(seen['x-accel-mapping'], `${privateDir}/=/private/`);
    await get(off, '/echo', { 'x-sendfile-type': 'X-Sendfile', 'x-accel-mapping': '/=/' });
    assert.equal(seen['x-sendfile-type'], undefined);
    assert.equal(seen['x-accel-mapping'], undefined);
    // So with the feature off a Rails app sends the file's bytes itself.
    const res = await get(off, '/reports/report.pdf', { 'x-sendfile-type': 'X-Sendfile' });
    assert.deepEqual(res.body, report);
  });
});
