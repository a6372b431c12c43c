/**
 * Preconditions (RFC 9110 13.2.2) and If-Range, case by case, and Range parsing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { etagListMatches, evaluatePreconditions, ifRangeAllows, Precondition } from '../../src/files/conditional.js';
import { parseRange, UNSATISFIABLE } from '../../src/files/byte-ranges.js';
import { fileETag, httpDate } from '../../src/files/validators.js';

const mtimeMs = Date.UTC(2025, 0, 15, 12, 30, 45, 678);
const validators = { etag: fileETag(1234, mtimeMs), lastModified: httpDate(mtimeMs), lastModifiedSecs: Math.trunc(mtimeMs / 1000) };
const ETAG = validators.etag;
const reader = (headers: Record<string, string>) => ({ get: (name: string) => headers[name] });
const before = new Date(mtimeMs - 10_000).toUTCString();
const later = new Date(mtimeMs + 10_000).toUTCString();

describe('validators', () => {
  test('ETag and Last-Modified formats', () => {
    assert.equal(ETAG, `"${Math.trunc(mtimeMs).toString(16)}-4d2"`);
    assert.equal(validators.lastModified, 'Wed, 15 Jan 2025 12:30:45 GMT');
  });
});

describe('etagListMatches', () => {
  test('strong and weak comparison', () => {
    assert.equal(etagListMatches(ETAG, ETAG, false), true);
    assert.equal(etagListMatches(`"other", ${ETAG}`, ETAG, false), true);
    assert.equal(etagListMatches(`W/${ETAG}`, ETAG, false), false);
    assert.equal(etagListMatches(`W/${ETAG}`, ETAG, true), true);
    assert.equal(etagListMatches('*', ETAG, false), true);
    assert.equal(etagListMatches('"other"', ETAG, true), false);
    assert.equal(etagListMatches(ETAG.slice(0, -1), ETAG, true), false);
    assert.equal(etagListMatches(`garbage, ${ETAG}`, ETAG, true), true);
    assert.equal(etagListMatches(`"a,b", ${ETAG}`, ETAG, true), true);
    assert.equal(etagListMatches('', ETAG, true), false);
  });

  test('our own tag weak (a body warpdrive compressed): weak comparison only', () => {
    const weakTag = `W/${ETAG}`;
    assert.equal(etagListMatches(weakTag, weakTag, true), true);
    assert.equal(etagListMatches(ETAG, weakTag, true), true);
    assert.equal(etagListMatches(weakTag, weakTag, false), false);
    assert.equal(etagListMatches('*', weakTag, false), true);
    assert.equal(ifRangeAllows(reader({ 'if-range': weakTag }), { ...validators, etag: weakTag }), false);
  });
});

describe('evaluatePreconditions', () => {
  const cases: [string, string, Record<string, string>, Precondition][] = [
    ['no conditions', 'GET', {}, Precondition.Proceed],
    ['If-None-Match matches', 'GET', { 'if-none-match': ETAG }, Precondition.NotModified],
    ['If-None-Match weak twin', 'HEAD', { 'if-none-match': `W/${ETAG}` }, Precondition.NotModified],
    ['If-None-Match *', 'GET', { 'if-none-match': '*' }, Precondition.NotModified],
    ['If-None-Match other', 'GET', { 'if-none-match': '"nope"' }, Precondition.Proceed],
    ['If-None-Match on POST', 'POST', { 'if-none-match': ETAG }, Precondition.Failed],
    ['If-Modified-Since our date', 'GET', { 'if-modified-since': validators.lastModified }, Precondition.NotModified],
    ['If-Modified-Since later', 'GET', { 'if-modified-since': later }, Precondition.NotModified],
    ['If-Modified-Since earlier', 'GET', { 'if-modified-since': before }, Precondition.Proceed],
    ['If-Modified-Since garbage', 'GET', { 'if-modified-since': 'yesterday' }, Precondition.Proceed],
    ['If-Modified-Since ignored on POST', 'POST', { 'if-modified-since': later }, Precondition.Proceed],
    ['If-None-Match wins over If-Modified-Since', 'GET', { 'if-none-match': '"nope"', 'if-modified-since': later }, Precondition.Proceed],
    ['If-Match matches', 'GET', { 'if-match': ETAG }, Precondition.Proceed],
    ['If-Match *', 'PUT', { 'if-match': '*' }, Precondition.Proceed],
    ['If-Match other', 'GET', { 'if-match': '"nope"' }, Precondition.Failed],
    ['If-Match weak never matches', 'GET', { 'if-match': `W/${ETAG}` }, Precondition.Failed],
    ['If-Unmodified-Since later', 'GET', { 'if-unmodified-since': later }, Precondition.Proceed],
    ['If-Unmodified-Since earlier', 'GET', { 'if-unmodified-since': before }, Precondition.Failed],
    ['If-Unmodified-Since garbage is ignored', 'GET', { 'if-unmodified-since': 'nope' }, Precondition.Proceed],
    ['If-Match wins over If-Unmodified-Since', 'GET', { 'if-match': ETAG, 'if-unmodified-since': before }, Precondition.Proceed],
    ['If-Match fails before If-None-Match is read', 'GET', { 'if-match': '"x"', 'if-none-match': ETAG }, Precondition.Failed],
  ];
  for (const [name, method, headers, expected] of cases) {
    test(name, () => assert.equal(evaluatePreconditions(method, reader(headers), validators), expected));
  }
});

describe('ifRangeAllows', () => {
  test('absent, strong ETag match or exact date', () => {
    assert.equal(ifRangeAllows(reader({}), validators), true);
    assert.equal(ifRangeAllows(reader({ 'if-range': ETAG }), validators), true);
    assert.equal(ifRangeAllows(reader({ 'if-range': `W/${ETAG}` }), validators), false);
    assert.equal(ifRangeAllows(reader({ 'if-range': '"old"' }), validators), false);
    assert.equal(ifRangeAllows(reader({ 'if-range': validators.lastModified }), validators), true);
    assert.equal(ifRangeAllows(reader({ 'if-range': later }), validators), false);
    assert.equal(ifRangeAllows(reader({ 'if-range': 'garbage' }), validators), false);
  });
});

describe('parseRange', () => {
  const size = 1000;
  const cases: [string, ReturnType<typeof parseRange>][] = [
    ['bytes=0-499', [{ start: 0, end: 499 }]],
    ['bytes=500-', [{ start: 500, end: 999 }]],
    ['bytes=-100', [{ start: 900, end: 999 }]],
    ['bytes=-5000', [{ start: 0, end: 999 }]],
    ['bytes=900-5000', [{ start: 900, end: 999 }]],
    ['bytes=999-999', [{ start: 999, end: 999 }]],
    ['Bytes = 0-0 , 10-19', [{ start: 0, end: 0 }, { start: 10, end: 19 }]],
    ['bytes=0-1,,5-6', [{ start: 0, end: 1 }, { start: 5, end: 6 }]],
    ['bytes=0-99,2000-3000', [{ start: 0, end: 99 }]],
    ['bytes=1000-', UNSATISFIABLE],
    ['bytes=1000-2000', UNSATISFIABLE],
    ['bytes=-0', UNSATISFIABLE],
    ['bytes=2000-,3000-', UNSATISFIABLE],
    ['items=0-1', undefined],
    ['bytes=', undefined],
    ['bytes=abc', undefined],
    ['bytes=5-1', undefined],
    ['bytes=-', undefined],
    ['bytes=1-2-3', undefined],
    ['bytes=+1-2', undefined],
    ['bytes=0x10-20', undefined],
    ['bytes=0-10,5-20', undefined], // overlapping
    ['bytes=50-60,0-10', undefined], // descending
    [`bytes=${Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`, undefined],
    [`bytes=${'0-0,'.repeat(400)}`, undefined],
  ];
  for (const [header, expected] of cases) {
    test(`${header.length > 60 ? header.slice(0, 57) + '...' : header} -> ${JSON.stringify(expected)}`, () => assert.deepEqual(parseRange(header, size), expected));
  }
  test('an empty body satisfies no range', () => {
    assert.equal(parseRange('bytes=0-', 0), UNSATISFIABLE);
    assert.equal(parseRange('bytes=-10', 0), UNSATISFIABLE);
  });
});
