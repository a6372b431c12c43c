/**
 * The compression decision for each kind of response, and the head edits it makes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ContentCoding } from '../../src/compression/accept-encoding.js';
import { CompressibleTypes, defaultCompressibleTypes, mediaType, mediaTypePattern } from '../../src/compression/compressible-types.js';
import { CompressionOutcome, CompressionPolicy, outcomeCoding } from '../../src/compression/compression-policy.js';
import { headObject, headOf } from '../helpers/response-heads.js';

const policy = new CompressionPolicy({ codings: [ContentCoding.Brotli, ContentCoding.Gzip], types: defaultCompressibleTypes, minBytes: 1024 });

const json = (extra: Record<string, string> = {}) => ({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': '5000', ...extra });

describe('CompressionPolicy.decide', () => {
  test('a compressible body for a gzip client: compressed, head edited', () => {
    const head = headOf(200, json({ ETag: '"abc"', 'Accept-Ranges': 'bytes', 'Cache-Control': 'public' }));
    assert.equal(policy.decide('GET', 'gzip, deflate', head), CompressionOutcome.Gzip);
    assert.deepEqual(headObject(head), {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public',
      'vary': 'Accept-Encoding',
      'content-encoding': 'gzip',
      'etag': 'W/"abc"',
    });
  });

  test('br is preferred when the client accepts both', () => {
    const head = headOf(200, json());
    assert.equal(outcomeCoding(policy.decide('GET', 'gzip, deflate, br, zstd', head)), ContentCoding.Brotli);
    assert.equal(head.get('content-encoding'), 'br');
  });

  test('a weak ETag stays as it is; an existing Vary gains Accept-Encoding once', () => {
    const head = headOf(200, json({ ETag: 'W/"x"', Vary: 'Cookie' }));
    policy.decide('GET', 'gzip', head);
    assert.equal(head.get('etag'), 'W/"x"');
    assert.equal(head.get('vary'), 'Cookie, Accept-Encoding');
    const again = headOf(200, json({ Vary: 'accept-encoding, Cookie' }));
    policy.decide('GET', 'gzip', again);
    assert.equal(again.get('vary'), 'accept-encoding, Cookie');
    const star = headOf(200, json({ Vary: '*' }));
    policy.decide('GET', 'gzip', star);
    assert.equal(star.get('vary'), '*');
  });

  test('eligible but not accepted: Vary added, nothing else touched', () => {
    for (const accept of [undefined, 'identity', 'gzip;q=0, br;q=0', 'deflate']) {
      const head = headOf(200, json({ ETag: '"abc"' }));
      assert.equal(policy.decide('GET', accept, head), CompressionOutcome.NotAccepted, String(accept));
      assert.deepEqual(headObject(head), { 'content-type': 'application/json; charset=utf-8', 'content-length': '5000', etag: '"abc"', vary: 'Accept-Encoding' });
    }
  });

  test('HEAD keeps the head of an uncompressed GET (with Vary)', () => {
    const head = headOf(200, json());
    assert.equal(policy.decide('HEAD', 'gzip', head), CompressionOutcome.NotAccepted);
    assert.equal(head.get('content-length'), '5000');
    assert.equal(head.get('content-encoding'), undefined);
  });

  const skipped: [string, number, Record<string, string>, CompressionOutcome][] = [
    ['101 upgrade', 101, { 'Content-Type': 'text/html' }, CompressionOutcome.NoBodyStatus],
    ['204', 204, json(), CompressionOutcome.NoBodyStatus],
    ['205', 205, json(), CompressionOutcome.NoBodyStatus],
    ['206 partial content', 206, json({ 'Content-Range': 'bytes 0-4999/10000' }), CompressionOutcome.NoBodyStatus],
    ['304', 304, json(), CompressionOutcome.NoBodyStatus],
    ['already gzip', 200, json({ 'Content-Encoding': 'gzip' }), CompressionOutcome.AlreadyEncoded],
    ['already br', 200, json({ 'Content-Encoding': 'br' }), CompressionOutcome.AlreadyEncoded],
    ['no-transform', 200, json({ 'Cache-Control': 'private, no-transform' }), CompressionOutcome.NoTransform],
    ['event stream', 200, { 'Content-Type': 'text/event-stream' }, CompressionOutcome.NotCompressibleType],
    ['image', 200, { 'Content-Type': 'image/png', 'Content-Length': '50000' }, CompressionOutcome.NotCompressibleType],
    ['no content type', 200, { 'Content-Length': '50000' }, CompressionOutcome.NotCompressibleType],
    ['too small', 200, json({ 'Content-Length': '1023' }), CompressionOutcome.TooSmall],
  ];
  for (const [name, status, headers, outcome] of skipped) {
    test(`never compressed: ${name} (head untouched)`, () => {
      const head = headOf(status, headers);
      const before = headObject(head);
      assert.equal(policy.decide('GET', 'gzip, br', head), outcome);
      assert.deepEqual(headObject(head), before);
    });
  }

  test('identity Content-Encoding and unknown length (chunked) are compressed', () => {
    const head = headOf(200, { 'Content-Type': 'text/html', 'Content-Encoding': 'identity' });
    assert.equal(policy.decide('GET', 'gzip', head), CompressionOutcome.Gzip);
    assert.equal(head.get('content-encoding'), 'gzip');
  });

  test('a 404 page or a 500 body is compressed like any other', () => {
    assert.equal(policy.decide('GET', 'gzip', headOf(404, json())), CompressionOutcome.Gzip);
    assert.equal(policy.decide('POST', 'gzip', headOf(500, json())), CompressionOutcome.Gzip);
  });
});

describe('CompressibleTypes', () => {
  const types = new CompressibleTypes(defaultCompressibleTypes);
  test('defaults cover text and structured text, not media', () => {
    for (const type of ['text/html', 'text/css; charset=utf-8', 'Text/HTML', 'application/json', 'application/javascript', 'image/svg+xml', 'text/csv']) {
      assert.equal(types.includes(type), true, type);
    }
    for (const type of ['image/png', 'video/mp4', 'application/zip', 'font/woff2', 'application/octet-stream', 'text/event-stream', 'text/event-stream; charset=utf-8', '']) {
      assert.equal(types.includes(type), false, type);
    }
  });
  test('a custom list, with a wildcard', () => {
    const custom = new CompressibleTypes(['application/json', 'application/*']);
    assert.equal(custom.includes('application/pdf'), true);
    assert.equal(custom.includes('text/html'), false);
  });
  test('every default entry is valid syntax', () => {
    for (const type of defaultCompressibleTypes) assert.match(type, mediaTypePattern);
    assert.equal(mediaType(' Application/JSON ; charset=utf-8'), 'application/json');
  });
});
