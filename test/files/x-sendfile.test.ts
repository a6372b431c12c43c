/**
 * X-Sendfile and X-Accel-Redirect against real files: the file replaces the
 * upstream's body with the upstream's other headers kept; every escape is refused
 * with 403 (404 when nothing is there) and the internal path stays out of the head.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRoot } from '../../src/files/file-root.js';
import { XSendfile, type XSendfileOutcome } from '../../src/files/x-sendfile.js';
import { CollectingWriter } from '../helpers/collecting-writer.js';
import { headObject, headOf } from '../helpers/response-heads.js';

let base: string;
let privateDir: string;
let storageDir: string;
let sendfile: XSendfile;
let plain: XSendfile;
const report = 'quarterly numbers\n'.repeat(100);

before(() => {
  base = mkdtempSync(join(tmpdir(), 'wd-xsendfile-'));
  privateDir = join(base, 'private');
  storageDir = join(base, 'storage');
  mkdirSync(join(privateDir, 'reports'), { recursive: true });
  mkdirSync(join(storageDir, 'sub'), { recursive: true });
  writeFileSync(join(privateDir, 'reports', 'q3 report.pdf'), report);
  writeFileSync(join(privateDir, '.hidden-but-named'), 'ok');
  writeFileSync(join(storageDir, 'upload.bin'), 'stored bytes');
  writeFileSync(join(base, 'outside.txt'), 'not yours');
  symlinkSync(join(base, 'outside.txt'), join(privateDir, 'escape.txt'));
  symlinkSync('/dev/zero', join(privateDir, 'zero'));
  execFileSync('mkfifo', [join(privateDir, 'fifo')]);
  const privateRoot = FileRoot.resolve(privateDir);
  const storageRoot = FileRoot.resolve(storageDir);
  sendfile = new XSendfile([storageRoot], [{ prefix: '/private/', root: privateRoot }]);
  plain = new XSendfile([storageRoot, privateRoot], []);
});

after(() => rmSync(base, { recursive: true, force: true }));

const noHeaders = { get: () => undefined };
const reader = (headers: Record<string, string>) => ({ get: (name: string) => headers[name] });

async function bodyOf(outcome: XSendfileOutcome): Promise<string> {
  assert.equal(outcome.kind, 'serve');
  if (outcome.kind !== 'serve' || outcome.body === undefined) return '';
  const sink = new CollectingWriter();
  outcome.body.start(sink);
  await sink.settled();
  return sink.body().toString();
}

function railsHead(header: string, value: string, extra: Record<string, string> = {}): ReturnType<typeof headOf> {
  // What Rack::Sendfile leaves: Content-Length 0, the app's headers, the file header.
  return headOf(200, {
    'Content-Type': 'application/pdf',
    'Content-Disposition': 'attachment; filename="q3 report.pdf"',
    'Cache-Control': 'private',
    'Set-Cookie': 'session=abc',
    ETag: 'W/"app-etag"',
    'Content-Length': '0',
    [header]: value,
    ...extra,
  });
}

describe('XSendfile request headers', () => {
  test('X-Accel-Redirect with the mapping when mappings exist, else X-Sendfile', () => {
    assert.deepEqual(sendfile.upstreamHeaders, ['x-sendfile-type', 'X-Accel-Redirect', 'x-accel-mapping', `${FileRoot.resolve(privateDir).path}/=/private/`]);
    assert.deepEqual(plain.upstreamHeaders, ['x-sendfile-type', 'X-Sendfile']);
  });

  test('appended to the upstream request headers', () => {
    const headers = ['host', 'a', 'accept', '*/*'];
    sendfile.applyUpstreamHeaders(headers);
    assert.deepEqual(headers, ['host', 'a', 'accept', '*/*', ...sendfile.upstreamHeaders]);
  });
});

describe('XSendfile responses', () => {
  test('X-Accel-Redirect through the mapping: the file, with the app\'s other headers', async () => {
    const head = railsHead('X-Accel-Redirect', '/private/reports/q3%20report.pdf');
    const outcome = sendfile.respond('GET', noHeaders, head);
    const headers = headObject(head);
    assert.equal(head.status, 200);
    assert.equal(headers['content-type'], 'application/pdf');
    assert.equal(headers['content-disposition'], 'attachment; filename="q3 report.pdf"');
    assert.equal(headers['cache-control'], 'private');
    assert.equal(headers['set-cookie'], 'session=abc');
    assert.equal(headers['content-length'], String(report.length));
    assert.equal(headers['accept-ranges'], 'bytes');
    assert.match(headers.etag!, /^"[0-9a-f]+-[0-9a-f]+"$/, 'the file\'s ETag replaces the app\'s');
    assert.ok(headers['last-modified']);
    assert.equal(headers['x-accel-redirect'], undefined);
    assert.equal(await bodyOf(outcome), report);
  });

  test('X-Sendfile with an absolute path; Content-Type by extension when the app sent none', async () => {
    const head = headOf(200, { 'X-Sendfile': join(storageDir, 'upload.bin'), 'Content-Length': '0' });
    const outcome = plain.respond('POST', noHeaders, head);
    assert.equal(head.get('content-type'), 'application/octet-stream');
    assert.equal(head.get('x-sendfile'), undefined);
    assert.equal(await bodyOf(outcome), 'stored bytes');
  });

  test('an X-Accel-Redirect matching no mapping is read as a path below a root (what Rack sends then)', async () => {
    const outcome = sendfile.respond('GET', noHeaders, railsHead('X-Accel-Redirect', `${storageDir}/upload.bin`));
    assert.equal(await bodyOf(outcome), 'stored bytes');
  });

  test('a dotfile the app names is served; a query string is ignored', async () => {
    assert.equal(await bodyOf(sendfile.respond('GET', noHeaders, railsHead('X-Accel-Redirect', '/private/.hidden-but-named?v=1'))), 'ok');
  });

  test('HEAD: the head, Content-Length, no body', () => {
    const head = railsHead('X-Accel-Redirect', '/private/reports/q3%20report.pdf');
    const outcome = sendfile.respond('HEAD', noHeaders, head);
    assert.equal(outcome.kind === 'serve' && outcome.body, undefined);
    assert.equal(head.get('content-length'), String(report.length));
  });

  test('conditional and range requests are answered against the file', async () => {
    const first = railsHead('X-Accel-Redirect', '/private/reports/q3%20report.pdf');
    await bodyOf(sendfile.respond('GET', noHeaders, first));
    const etag = first.get('etag')!;

    const revalidate = railsHead('X-Accel-Redirect', '/private/reports/q3%20report.pdf');
    const notModified = sendfile.respond('GET', reader({ 'if-none-match': etag }), revalidate);
    assert.equal(revalidate.status, 304);
    assert.equal(revalidate.get('content-type'), undefined);
    assert.equal(revalidate.get('etag'), etag);
    assert.equal(notModified.kind === 'serve' && notModified.body, undefined);

    const ranged = railsHead('X-Accel-Redirect', '/private/reports/q3%20report.pdf');
    const partial = sendfile.respond('GET', reader({ range: 'bytes=0-8' }), ranged);
    assert.equal(ranged.status, 206);
    assert.equal(ranged.get('content-range'), `bytes 0-8/${report.length}`);
    assert.equal(ranged.get('content-length'), '9');
    assert.equal(await bodyOf(partial), 'quarterly');

    const beyond = railsHead('X-Accel-Redirect', '/private/reports/q3%20report.pdf');
    sendfile.respond('GET', reader({ range: 'bytes=99999-' }), beyond);
    assert.equal(beyond.status, 416);
    assert.equal(beyond.get('content-range'), `bytes */${report.length}`);

    const failed = railsHead('X-Accel-Redirect', '/private/reports/q3%20report.pdf');
    sendfile.respond('GET', reader({ 'if-match': '"other"' }), failed);
    assert.equal(failed.status, 412);
  });

  test('a status other than 200: the header is removed and the upstream body passes', () => {
    const head = headOf(404, { 'X-Sendfile': '/etc/passwd', 'Content-Type': 'text/html', 'Content-Length': '9' });
    assert.deepEqual(sendfile.respond('GET', noHeaders, head), { kind: 'stripped' });
    assert.deepEqual(headObject(head), { 'content-type': 'text/html', 'content-length': '9' });
  });

  test('no header: nothing to do', () => {
    const head = headOf(200, { 'Content-Type': 'text/html' });
    assert.deepEqual(sendfile.respond('GET', noHeaders, head), { kind: 'none' });
  });

  const refusals: [string, string, string, 403 | 404, string][] = [
    ['outside every root', 'X-Sendfile', '/etc/passwd', 403, 'outside every allowed root'],
    ['a sibling directory sharing the prefix', 'X-Sendfile', `${storageDir}-other/x`, 403, 'outside every allowed root'],
    ['dot segments', 'X-Sendfile', `${storageDir}/../outside.txt`, 403, 'a "." or ".." segment'],
    ['a relative path', 'X-Sendfile', 'storage/upload.bin', 403, 'not an absolute path'],
    ['NUL', 'X-Sendfile', `${storageDir}/upload.bin\u0000.txt`, 403, 'a control character (NUL included) in the path'],
    ['a missing file', 'X-Sendfile', `${storageDir}/nope.bin`, 404, 'no such file'],
    ['a directory', 'X-Sendfile', `${storageDir}/sub`, 403, 'a directory'],
    ['the root itself', 'X-Sendfile', storageDir, 403, 'outside every allowed root'],
    ['a symlink out of the root', 'X-Accel-Redirect', '/private/escape.txt', 403, 'a symlink leading outside every allowed root'],
    ['a device', 'X-Accel-Redirect', '/private/zero', 403, 'not a regular file (device, FIFO or socket)'],
    ['a FIFO', 'X-Accel-Redirect', '/private/fifo', 403, 'not a regular file (device, FIFO or socket)'],
    ['.. in a URI', 'X-Accel-Redirect', '/private/../outside.txt', 403, 'a "." or ".." segment'],
    ['encoded .. in a URI', 'X-Accel-Redirect', '/private/%2e%2e/outside.txt', 403, 'a "." or ".." segment'],
    ['an encoded slash', 'X-Accel-Redirect', '/private/..%2foutside.txt', 403, 'an encoded "/" or "\\" in the path'],
    ['NUL in a URI', 'X-Accel-Redirect', '/private/reports%00.pdf', 403, 'a control character (NUL included) in the path'],
    ['the mapping root itself', 'X-Accel-Redirect', '/private/', 403, 'a directory'],
    ['an unmapped URI outside the roots', 'X-Accel-Redirect', '/etc/passwd', 403, 'outside every allowed root'],
    ['a missing file by URI', 'X-Accel-Redirect', '/private/reports/nope.pdf', 404, 'no such file'],
  ];
  for (const [name, header, value, status, reason] of refusals) {
    test(`refused: ${name} -> ${status}, the path nowhere in the head`, () => {
      const head = railsHead(header, value);
      const outcome = sendfile.respond('GET', noHeaders, head);
      assert.deepEqual(outcome, { kind: 'refused', status, reason, target: value });
      assert.equal(head.status, status);
      const headers = headObject(head);
      assert.deepEqual(Object.keys(headers).sort(), ['cache-control', 'content-type', 'set-cookie']);
      assert.equal(headers['content-type'], 'text/plain; charset=utf-8');
      for (const text of Object.values(headers)) assert.ok(!text.includes(base) && !text.includes('/private') && !text.includes('passwd'));
    });
  }
});
