/**
 * Which header fields a stored response keeps, and how a 304 updates them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headersToStore, updateStoredHeaders } from '../../src/cache/stored-headers.js';

describe('headersToStore', () => {
  it('keeps unknown fields in order and case, drops connection, proxy and warpdrive-written fields', () => {
    const stored = headersToStore([
      'Content-Type', 'text/plain',
      'Connection', 'a, b',
      'a', '1', 'b', '2', 'c', '3',
      'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2', 'TE', 'x', 'Trailer', 'x', 'Proxy-Connection', 'x',
      'Proxy-Authenticate', 'Basic', 'Proxy-Authentication-Info', 'x', 'Proxy-Authorization', 'x',
      'Age', '5', 'Date', 'Sun, 06 Nov 1994 08:49:37 GMT', 'Content-Length', '3',
      'X-Frame-Options', 'deny', 'WWW-Authenticate', 'Basic',
    ]);
    assert.deepEqual(stored, ['Content-Type', 'text/plain', 'c', '3', 'X-Frame-Options', 'deny', 'WWW-Authenticate', 'Basic']);
  });

  it('drops fields named by no-cache="..." / private="..."', () => {
    assert.deepEqual(headersToStore(['a', '1', 'B', '2', 'c', '3'], ['a', 'b']), ['c', '3']);
  });
});

describe('updateStoredHeaders', () => {
  it('replaces every stored line of a field the 304 carries, keeps the others, adds new ones', () => {
    const updated = updateStoredHeaders(
      ['Content-Type', 'text/plain', 'Cache-Control', 'max-age=1', 'X-A', '1', 'Set-Cookie2', 'a', 'Link', '</1>', 'Link', '</2>'],
      ['Cache-Control', 'max-age=3600', 'Link', '</3>', 'X-New', 'y', 'Date', 'now', 'Content-Length', '0'],
    );
    assert.deepEqual(updated, ['Content-Type', 'text/plain', 'X-A', '1', 'Set-Cookie2', 'a', 'Cache-Control', 'max-age=3600', 'Link', '</3>', 'X-New', 'y']);
  });

  it('never changes the stored body\'s Content-Encoding or Content-Range, nor brings in omitted fields', () => {
    const updated = updateStoredHeaders(['Content-Encoding', 'gzip'], ['Content-Encoding', 'br', 'Content-Type', 'text/html', 'X-User', 'me'], ['x-user']);
    assert.deepEqual(updated, ['Content-Encoding', 'gzip', 'Content-Type', 'text/html']);
  });

  it('keeps a stored weak ETag when the 304 brings the strong tag it was made from (the stored body was compressed)', () => {
    assert.deepEqual(updateStoredHeaders(['ETag', 'W/"v1"'], ['ETag', '"v1"']), ['ETag', 'W/"v1"']);
    // Another tag, or a weak one, replaces it as usual.
    assert.deepEqual(updateStoredHeaders(['ETag', 'W/"v1"'], ['ETag', '"v2"']), ['ETag', '"v2"']);
    assert.deepEqual(updateStoredHeaders(['ETag', '"v1"'], ['ETag', 'W/"v1"']), ['ETag', 'W/"v1"']);
  });
});
