/**
 * The static files, X-Sendfile and compression filters, each alone: given an
 * exchange in a known state, what a hook decides, answers or puts in place. The
 * end-to-end behaviour through the CLI is in test/integration/static-files,
 * x-sendfile and compression.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { us_socket_context_t } from 'uWebSockets.js';
import { ContentCoding } from '../../src/compression/accept-encoding.js';
import { defaultCompressibleTypes } from '../../src/compression/compressible-types.js';
import { CompressingWriter } from '../../src/compression/compressing-writer.js';
import { CompressionPolicy } from '../../src/compression/compression-policy.js';
import { parseConfig } from '../../src/config/index.js';
import { FileRoot } from '../../src/files/file-root.js';
import { SmallFileCache } from '../../src/files/small-file-cache.js';
import { StaticFiles } from '../../src/files/static-files.js';
import { XSendfile } from '../../src/files/x-sendfile.js';
import { CompressionFilter } from '../../src/filters/compression.js';
import { ThreadServices } from '../../src/filters/index.js';
import { StaticFilesFilter } from '../../src/filters/static-files.js';
import { XSendfileFilter } from '../../src/filters/x-sendfile.js';
import { Exchange, type ExchangeOwner } from '../../src/pipeline/exchange.js';
import { Verdict } from '../../src/pipeline/filter.js';
import { Generation } from '../../src/runtime/generation.js';
import { FakeResponse, type Call } from '../helpers/fake-uws-response.js';
import { headObject, headOf } from '../helpers/response-heads.js';

let dir: string;
let generation: Generation;

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wd-file-filters-'));
  mkdirSync(path.join(dir, 'public', 'docs'), { recursive: true });
  mkdirSync(path.join(dir, 'private'));
  writeFileSync(path.join(dir, 'public', 'hello.txt'), 'hello\n');
  writeFileSync(path.join(dir, 'public', 'docs', 'index.html'), '<h1>docs</h1>');
  writeFileSync(path.join(dir, 'private', 'report.pdf'), 'pdf bytes');
  writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'public', 'escape.txt'));
  generation = Generation.build(parseConfig('[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n', 'file-filters-test.toml'), new ThreadServices(0));
});

after(async () => {
  await Promise.all([...generation.upstreams.values()].map((u) => u.close()));
  rmSync(dir, { recursive: true, force: true });
});

const owner: ExchangeOwner = { draining: false, proceed() {}, resumeFilters() {}, exchangeFinished() {} };

function exchange(method: string, target: string, headers: string[] = []): { x: Exchange; res: FakeResponse } {
  const res = new FakeResponse();
  const x = new Exchange(owner, generation.acquire(), res.asResponse, 0);
  x.method = method;
  x.path = target;
  x.route = generation.routes[0];
  x.upstreamHeaders.push(...headers);
  x.sink.isHeadRequest = method === 'HEAD';
  return { x, res };
}

function statusOf(res: FakeResponse): string | undefined {
  return (res.calls.find((c) => c.op === 'status') as { line: string } | undefined)?.line;
}
function headerOf(res: FakeResponse, name: string): string | undefined {
  return (res.calls.find((c) => c.op === 'header' && c.name.toLowerCase() === name) as { value: string } | undefined)?.value;
}
function bodyOf(res: FakeResponse): string {
  return res.calls
    .filter((c): c is Extract<Call, { op: 'tryEnd' | 'write' | 'end' }> => c.op === 'tryEnd' || c.op === 'write' || c.op === 'end')
    .map((c) => c.data)
    .join('');
}

describe('StaticFilesFilter', () => {
  const files = () => new StaticFiles({ root: FileRoot.resolve(path.join(dir, 'public')), serveDotfiles: false, fingerprintPattern: undefined, cache: new SmallFileCache({ maxBytes: 1 << 20, maxFileBytes: 1 << 16 }) });

  it('serves a file with its length, and the upstream is not asked', () => {
    const { x, res } = exchange('GET', '/hello.txt');
    assert.equal(new StaticFilesFilter(files(), false).request(x), Verdict.Answered);
    assert.equal(statusOf(res), '200 OK');
    assert.equal(headerOf(res, 'content-type'), 'text/plain; charset=utf-8');
    assert.deepEqual(res.calls.find((c) => c.op === 'tryEnd'), { op: 'tryEnd', data: 'hello\n', total: 6 });
  });

  it('HEAD: the head with the file length, no body', () => {
    const { x, res } = exchange('HEAD', '/hello.txt');
    assert.equal(new StaticFilesFilter(files(), false).request(x), Verdict.Answered);
    assert.equal(headerOf(res, 'content-length'), '6');
    assert.equal(bodyOf(res), '');
  });

  it('redirects a directory to its trailing slash, query kept', () => {
    const { x, res } = exchange('GET', '/docs');
    x.query = 'a=1';
    assert.equal(new StaticFilesFilter(files(), false).request(x), Verdict.Answered);
    assert.equal(statusOf(res), '301 Moved Permanently');
    assert.equal(headerOf(res, 'location'), '/docs/?a=1');
  });

  it('refuses a symlink out of the root with 404', () => {
    const { x, res } = exchange('GET', '/escape.txt');
    assert.equal(new StaticFilesFilter(files(), false).request(x), Verdict.Answered);
    assert.equal(statusOf(res), '404 Not Found');
  });

  it('lets the rest go on to the upstream: no such file, other methods, WebSocket upgrades', () => {
    const filter = new StaticFilesFilter(files(), false);
    assert.equal(filter.request(exchange('GET', '/nope').x), Verdict.Continue);
    assert.equal(filter.request(exchange('POST', '/hello.txt').x), Verdict.Continue);
    const upgrade = exchange('GET', '/hello.txt').x;
    upgrade.upgradeContext = {} as us_socket_context_t;
    assert.equal(filter.request(upgrade), Verdict.Continue);
  });

  it('on a files-only route: 404 for the rest, 405 with Allow for other methods, 404 for upgrades', () => {
    const filter = new StaticFilesFilter(files(), true);
    const missing = exchange('GET', '/nope');
    assert.equal(filter.request(missing.x), Verdict.Answered);
    assert.equal(statusOf(missing.res), '404 Not Found');
    const post = exchange('POST', '/hello.txt');
    assert.equal(filter.request(post.x), Verdict.Answered);
    assert.equal(statusOf(post.res), '405 Method Not Allowed');
    assert.equal(headerOf(post.res, 'allow'), 'GET, HEAD');
    const upgrade = exchange('GET', '/hello.txt');
    upgrade.x.upgradeContext = {} as us_socket_context_t;
    assert.equal(filter.request(upgrade.x), Verdict.Answered);
    assert.equal(statusOf(upgrade.res), '404 Not Found');
  });
});

describe('XSendfileFilter', () => {
  const filter = () => new XSendfileFilter(new XSendfile([], [{ prefix: '/private/', root: FileRoot.resolve(path.join(dir, 'private')) }]));

  it('tells the upstream how to name files', () => {
    const headers: string[] = ['host', 'example.com'];
    filter().upstreamRequest(exchange('GET', '/').x, headers);
    assert.deepEqual(headers, ['host', 'example.com', 'x-sendfile-type', 'X-Accel-Redirect', 'x-accel-mapping', `${path.join(dir, 'private')}/=/private/`]);
  });

  it('replaces the body with the named file and describes it in the head', () => {
    const { x } = exchange('GET', '/report');
    const head = headOf(200, { 'Content-Type': 'application/pdf', 'X-Accel-Redirect': '/private/report.pdf', 'Content-Length': '0' });
    filter().responseHead(x, head);
    assert.ok(x.replacement, 'the body is replaced');
    assert.equal(x.replacement.length, 9);
    assert.equal(headObject(head)['content-length'], '9');
    assert.equal(headObject(head)['x-accel-redirect'], undefined);
  });

  it('a refusal: 403, a plain body of its own length, the path gone from the head', () => {
    const { x } = exchange('GET', '/report');
    const head = headOf(200, { 'X-Sendfile': '/etc/passwd', 'Content-Disposition': 'attachment' });
    filter().responseHead(x, head);
    assert.equal(head.status, 403);
    assert.deepEqual(headObject(head), { 'content-type': 'text/plain; charset=utf-8', 'content-length': '10' });
    assert.equal(x.replacement?.length, 10);
  });

  it('leaves a response without the headers alone', () => {
    const { x } = exchange('GET', '/');
    const head = headOf(200, { 'Content-Type': 'text/html' });
    filter().responseHead(x, head);
    assert.equal(x.replacement, undefined);
  });
});

describe('CompressionFilter', () => {
  const filter = new CompressionFilter(
    new CompressionPolicy({ codings: [ContentCoding.Brotli, ContentCoding.Gzip], types: defaultCompressibleTypes, minBytes: 1024 }),
    { gzip: 5, brotli: 4 },
  );

  it('puts a compressing writer in front of the sink when the client accepts a coding', () => {
    const { x } = exchange('GET', '/', ['accept-encoding', 'gzip']);
    const head = headOf(200, { 'Content-Type': 'application/json', 'Content-Length': '5000' });
    filter.responseHead(x, head);
    assert.ok(x.writer instanceof CompressingWriter);
    assert.equal(headObject(head)['content-encoding'], 'gzip');
    x.writer.abort(); // release the stream
  });

  it('leaves the writer alone otherwise', () => {
    const { x } = exchange('GET', '/');
    filter.responseHead(x, headOf(200, { 'Content-Type': 'application/json', 'Content-Length': '5000' }));
    assert.equal(x.writer, x.sink);
  });
});
