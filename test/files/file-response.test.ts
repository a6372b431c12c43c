/**
 * The response plan for a file: status, headers and parts for each kind of
 * request, and multipart bodies whose declared length is their real length.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBodySource } from '../../src/files/file-body-source.js';
import { buildFileResponse, type FileRepresentation } from '../../src/files/file-response.js';
import { fileETag, httpDate } from '../../src/files/validators.js';
import { CollectingWriter } from '../helpers/collecting-writer.js';

const content = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
const mtimeMs = Date.UTC(2025, 5, 1, 8, 0, 0);
const file: FileRepresentation = {
  size: content.length,
  contentType: 'text/plain; charset=utf-8',
  validators: { etag: fileETag(content.length, mtimeMs), lastModified: httpDate(mtimeMs), lastModifiedSecs: mtimeMs / 1000 },
};
const reader = (headers: Record<string, string>) => ({ get: (name: string) => headers[name] });
const asObject = (flat: readonly string[]) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]));

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wd-fresp-'));
  writeFileSync(join(dir, 'f.txt'), content);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function bodyOf(parts: ReturnType<typeof buildFileResponse>["parts"]): Promise<Buffer> {
  const sink = new CollectingWriter();
  new FileBodySource(openSync(join(dir, 'f.txt'), 'r'), parts).start(sink);
  await sink.settled();
  return sink.body();
}

describe('buildFileResponse', () => {
  const extras = { cacheHeaders: ['cache-control', 'public, max-age=60', 'vary', 'Accept-Encoding'], representationHeaders: ['content-encoding', 'br'] };

  test('GET: 200 with validators, Accept-Ranges, the extras and the whole file', async () => {
    const response = buildFileResponse('GET', reader({}), file, extras);
    assert.equal(response.status, 200);
    assert.equal(response.contentLength, content.length);
    assert.deepEqual(asObject(response.headers), {
      'content-type': 'text/plain; charset=utf-8',
      'last-modified': 'Sun, 01 Jun 2025 08:00:00 GMT',
      etag: file.validators.etag,
      'accept-ranges': 'bytes',
      'cache-control': 'public, max-age=60',
      vary: 'Accept-Encoding',
      'content-encoding': 'br',
    });
    assert.deepEqual(await bodyOf(response.parts), content);
  });

  test('HEAD: the same head, no parts', () => {
    const get = buildFileResponse('GET', reader({}), file, extras);
    const head = buildFileResponse('HEAD', reader({}), file, extras);
    assert.deepEqual(head.headers, get.headers);
    assert.equal(head.contentLength, get.contentLength);
    assert.deepEqual(head.parts, []);
  });

  test('304 keeps validators and cache headers, not the representation', () => {
    const response = buildFileResponse('GET', reader({ 'if-none-match': file.validators.etag }), file, extras);
    assert.equal(response.status, 304);
    assert.deepEqual(asObject(response.headers), {
      etag: file.validators.etag,
      'last-modified': 'Sun, 01 Jun 2025 08:00:00 GMT',
      'cache-control': 'public, max-age=60',
      vary: 'Accept-Encoding',
    });
    assert.deepEqual(response.parts, []);
  });

  test('412 for a failed If-Match', () => {
    const response = buildFileResponse('GET', reader({ 'if-match': '"other"' }), file);
    assert.equal(response.status, 412);
    assert.equal(response.contentLength, 0);
  });

  test('single range: 206 with Content-Range and only those bytes', async () => {
    const response = buildFileResponse('GET', reader({ range: 'bytes=10-15' }), file);
    assert.equal(response.status, 206);
    assert.equal(asObject(response.headers)['content-range'], `bytes 10-15/${content.length}`);
    assert.equal(response.contentLength, 6);
    assert.equal((await bodyOf(response.parts)).toString(), 'abcdef');
  });

  test('416 with Content-Range */size', () => {
    const response = buildFileResponse('GET', reader({ range: 'bytes=100-' }), file);
    assert.equal(response.status, 416);
    assert.deepEqual(response.headers, ['content-range', `bytes */${content.length}`]);
  });

  test('a Range on POST, or with a stale If-Range, gets the whole file', () => {
    assert.equal(buildFileResponse('POST', reader({ range: 'bytes=0-1' }), file).status, 200);
    assert.equal(buildFileResponse('GET', reader({ range: 'bytes=0-1', 'if-range': '"stale"' }), file).status, 200);
    assert.equal(buildFileResponse('GET', reader({ range: 'bytes=0-1', 'if-range': file.validators.etag }), file).status, 206);
  });

  test('multipart ranges: parseable parts, declared length equals the body', async () => {
    const response = buildFileResponse('GET', reader({ range: 'bytes=0-2, 10-12, -3' }), file);
    assert.equal(response.status, 206);
    const type = asObject(response.headers)['content-type']!;
    const boundary = /^multipart\/byteranges; boundary=(warpdrive-[0-9a-f]{24})$/.exec(type)?.[1];
    assert.ok(boundary, type);
    const body = await bodyOf(response.parts);
    assert.equal(body.length, response.contentLength);
    const total = content.length;
    assert.equal(
      body.toString(),
      `--${boundary}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-range: bytes 0-2/${total}\r\n\r\n012` +
        `\r\n--${boundary}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-range: bytes 10-12/${total}\r\n\r\nabc` +
        `\r\n--${boundary}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-range: bytes ${total - 3}-${total - 1}/${total}\r\n\r\nxyz` +
        `\r\n--${boundary}--\r\n`,
    );
  });

  test('an empty file: 200 with no parts', () => {
    const empty = { ...file, size: 0 };
    const response = buildFileResponse('GET', reader({}), empty);
    assert.equal(response.status, 200);
    assert.equal(response.contentLength, 0);
    assert.deepEqual(response.parts, []);
  });
});
