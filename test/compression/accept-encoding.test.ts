/**
 * Accept-Encoding negotiation, case by case: what a client gets for each header
 * it may send, with warpdrive offering br then gzip (the default) or one of them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { codingFromToken, codingToken, ContentCoding, EncodingNegotiator } from '../../src/compression/accept-encoding.js';

const both = new EncodingNegotiator([ContentCoding.Brotli, ContentCoding.Gzip]);
const gzipFirst = new EncodingNegotiator([ContentCoding.Gzip, ContentCoding.Brotli]);
const gzipOnly = new EncodingNegotiator([ContentCoding.Gzip]);
const none = new EncodingNegotiator([]);

function choose(negotiator: EncodingNegotiator, header: string | undefined): string {
  return codingToken(negotiator.choose(header));
}

describe('EncodingNegotiator', () => {
  const cases: [header: string | undefined, withBoth: string, withGzipOnly: string][] = [
    [undefined, 'identity', 'identity'],
    ['', 'identity', 'identity'],
    ['gzip', 'gzip', 'gzip'],
    ['br', 'br', 'identity'],
    ['gzip, deflate, br, zstd', 'br', 'gzip'],
    ['GZIP', 'gzip', 'gzip'],
    ['x-gzip', 'gzip', 'gzip'],
    ['deflate', 'identity', 'identity'],
    ['*', 'br', 'gzip'],
    ['*;q=0', 'identity', 'identity'],
    ['identity', 'identity', 'identity'],
    ['identity;q=0', 'identity', 'identity'],
    ['gzip;q=0', 'identity', 'identity'],
    ['br;q=0, gzip', 'gzip', 'gzip'],
    ['br;q=0.5, gzip;q=0.8', 'gzip', 'gzip'],
    ['br;q=0.8, gzip;q=0.8', 'br', 'gzip'],
    ['gzip;q=1.0, br;q=0.999', 'gzip', 'gzip'],
    ['*;q=0.1, gzip;q=0', 'br', 'identity'],
    ['gzip;q=0.5, identity;q=1', 'identity', 'identity'],
    ['gzip;q=0.5, identity;q=0.5', 'gzip', 'gzip'],
    ['gzip ; q=0.5 , br ; q = 0.6', 'br', 'gzip'],
    ['gzip;level=1;q=0.2', 'gzip', 'gzip'],
    // Malformed q-values count as 0: a garbled header never switches compression on.
    ['gzip;q=2', 'identity', 'identity'],
    ['gzip;q=0.12345', 'identity', 'identity'],
    ['gzip;q=abc', 'identity', 'identity'],
    ['gzip;q=', 'identity', 'identity'],
    ['gzip;q=1.5', 'identity', 'identity'],
    [',,, ,gzip,,', 'gzip', 'gzip'],
    ['gzipx, xbr, g', 'identity', 'identity'],
    ['identity;q=0, *;q=0', 'identity', 'identity'],
  ];

  for (const [header, withBoth, withGzipOnly] of cases) {
    test(`${JSON.stringify(header)} -> ${withBoth} (br, gzip offered), ${withGzipOnly} (gzip only)`, () => {
      assert.equal(choose(both, header), withBoth);
      assert.equal(choose(gzipOnly, header), withGzipOnly);
      assert.equal(choose(none, header), 'identity');
    });
  }

  test('ties go to the server order', () => {
    assert.equal(choose(gzipFirst, 'br, gzip'), 'gzip');
    assert.equal(choose(both, 'gzip, br'), 'br');
  });

  test('the remembered last header never answers for a different one', () => {
    const negotiator = new EncodingNegotiator([ContentCoding.Brotli, ContentCoding.Gzip]);
    assert.equal(choose(negotiator, 'gzip'), 'gzip');
    assert.equal(choose(negotiator, 'gzip'), 'gzip');
    assert.equal(choose(negotiator, 'br'), 'br');
    assert.equal(choose(negotiator, 'identity'), 'identity');
    assert.equal(choose(negotiator, 'gzip'), 'gzip');
  });

  test('tokens map both ways', () => {
    assert.equal(codingFromToken('gzip'), ContentCoding.Gzip);
    assert.equal(codingFromToken('br'), ContentCoding.Brotli);
    assert.equal(codingFromToken('deflate'), undefined);
    assert.equal(codingToken(ContentCoding.Brotli), 'br');
  });
});
