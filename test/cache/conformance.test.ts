/**
 * Conformance: the requirements of RFC 9111 (and RFC 5861, RFC 9213) that apply
 * to a shared cache, one table row each, run through the cache filter with a
 * real client and a real upstream. The rows follow the required cases of the
 * public HTTP caching test suite (cache-tests.fyi; its ids are given so results
 * can be compared) and add the MUSTs it does not cover.
 *
 * Time is the cache's clock (src/cache/clock.ts), moved forward between steps,
 * so a max-age=1 response is exactly stale 2 s later without sleeping; the
 * upstream writes its Date headers from the same clock.
 *
 * Each step is one client request. Its `expect` says what the upstream saw:
 * - cached: nothing (answered from the cache)
 * - fetched: the request itself
 * - etag-validated / lm-validated: the request with If-None-Match / If-Modified-Since
 *
 * Known deviations, by design or by the platform, are listed at the end with the
 * reason and asserted as they are, so a change in either direction is noticed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { clock } from '../../src/cache/clock.js';
import { formatHttpDate } from '../helpers/http-date.js';
import { ResponseCache } from '../../src/cache/response-cache.js';
import { CacheHarness, HttpRevalidator } from '../helpers/cache-harness.js';

/** A header value: text, or a number of seconds from now that becomes an HTTP date. */
type Value = string | number;

interface Step {
  readonly method?: string;
  /** Numbers are HTTP dates that many seconds from now, as in `headers`. */
  readonly requestHeaders?: readonly (readonly [string, Value])[];
  readonly query?: string;
  /** The response the upstream gives if this step reaches it. */
  readonly status?: number;
  readonly headers?: readonly (readonly [string, Value])[];
  readonly body?: string;
  /** The upstream closes the connection instead of answering. */
  readonly disconnect?: boolean;
  /** What the upstream saw of this step. */
  readonly expect?: 'cached' | 'fetched' | 'etag-validated' | 'lm-validated';
  readonly expectStatus?: number;
  readonly expectHeaders?: readonly (readonly [string, string | RegExp])[];
  readonly expectMissing?: readonly string[];
  /** Request headers the upstream must have received. */
  readonly expectUpstreamHeaders?: readonly (readonly [string, string])[];
  /** Seconds the clock moves on after this step. */
  readonly then?: number;
  /** Wait for background revalidations to finish before this step. */
  readonly settle?: boolean;
}

interface Case {
  /** The cache-tests id, or rfcNNNN-... for requirements it does not cover. */
  readonly id: string;
  readonly rule: string;
  readonly steps: readonly Step[];
  /** A different path for this step index (Location / Content-Location invalidation). */
  readonly paths?: Readonly<Record<number, string>>;
}

const PAUSE = 3;

// ---------------------------------------------------------------------------
// The cases

const fresh = (extra: (readonly [string, Value])[] = []): (readonly [string, Value])[] => [['Expires', 100000], ['Cache-Control', 'max-age=100000'], ['Last-Modified', 0], ['Date', 0], ...extra];
const staleTemplate: (readonly [string, Value])[] = [['Expires', -5000], ['Last-Modified', -100000], ['Date', 0]];

/** A response stored once, then a second request expected to be `expect`. */
function pair(id: string, rule: string, headers: (readonly [string, Value])[], expect: Step['expect'], pause = PAUSE, second: Partial<Step> = {}): Case {
  return { id, rule, steps: [{ headers, then: pause }, { expect, ...second }] };
}

const freshnessCases: Case[] = [
  pair('freshness-max-age', '4.2.1 max-age', [['Cache-Control', 'max-age=3600']], 'cached'),
  pair('freshness-max-age-single-quoted', '5.2 invalid value is stale', [['Cache-Control', "max-age='3600'"]], 'fetched'),
  pair('freshness-max-age-ignore-quoted', '5.2 quoted-string syntax', [['Cache-Control', 'extension="max-age=100", max-age=1']], 'fetched'),
  pair('freshness-max-age-ignore-quoted-rev', '5.2 quoted-string syntax', [['Cache-Control', 'max-age=1, extension="max-age=100"']], 'fetched'),
  pair('freshness-max-age-ignore-quoted-all', '5.2 quoted-string syntax', [['Cache-Control', 'extension="max-age=100", max-age="1"']], 'fetched'),
  pair('freshness-max-age-ignore-quoted-all-rev', '5.2 quoted-string syntax', [['Cache-Control', 'max-age="1", extension="max-age=100"']], 'fetched'),
  pair('freshness-max-age-space-before-equals', '5.2 syntax', [['Cache-Control', 'max-age =100']], 'fetched'),
  pair('freshness-max-age-space-after-equals', '5.2 syntax', [['Cache-Control', 'max-age= 100']], 'fetched'),
  pair('freshness-max-age-0', '4.2 max-age=0 is stale', [['Cache-Control', 'max-age=0']], 'fetched'),
  pair('freshness-max-age-a100', '1.2.2 delta-seconds', [['Cache-Control', 'max-age=a100']], 'fetched'),
  pair('freshness-max-age-100a', '1.2.2 delta-seconds', [['Cache-Control', 'max-age=100a']], 'fetched'),
  pair('freshness-max-age-negative', '1.2.2 delta-seconds', [['Cache-Control', 'max-age=-100']], 'fetched'),
  pair('freshness-max-age-leading-zero', '1.2.2 delta-seconds', [['Cache-Control', 'max-age=003600']], 'cached'),
  pair('freshness-max-age-max', '1.2.2 2^31', [['Cache-Control', 'max-age=2147483648']], 'cached'),
  pair('freshness-max-age-max-plus', '1.2.2 2^31', [['Cache-Control', 'max-age=99999999999']], 'cached'),
  pair('freshness-max-age-age', '4.2.3 Age counts', [['Date', 0], ['Cache-Control', 'max-age=10'], ['Age', '15']], 'fetched'),
  pair('freshness-max-age-expires', '5.3 max-age wins over Expires', [['Cache-Control', 'max-age=3600'], ['Expires', -10000], ['Date', 0]], 'cached'),
  pair('freshness-max-age-expires-invalid', '5.3 max-age wins over Expires', [['Cache-Control', 'max-age=3600'], ['Expires', '0'], ['Date', 0]], 'cached'),
  pair('freshness-max-age-0-expires', '5.3 max-age wins over Expires', [['Expires', 10000], ['Cache-Control', 'max-age=0'], ['Date', 0]], 'fetched'),
  pair('freshness-max-age-extension', '5.2.3 extensions ignored', [['Cache-Control', 'foobar, max-age=3600']], 'cached'),
  pair('freshness-max-age-case-insenstive', '5.2 case-insensitive', [['Cache-Control', 'MaX-aGe=3600']], 'cached'),
  pair('freshness-s-maxage-shared', '5.2.2.10 s-maxage', [['Cache-Control', 's-maxage=3600']], 'cached'),
  pair('freshness-max-age-s-maxage-shared-longer', '5.2.2.10 s-maxage wins', [['Cache-Control', 'max-age=3600, s-maxage=1']], 'fetched'),
  pair('freshness-max-age-s-maxage-shared-longer-reversed', '5.2.2.10 s-maxage wins', [['Cache-Control', 's-maxage=1, max-age=3600']], 'fetched'),
  pair('freshness-max-age-s-maxage-shared-longer-multiple', '5.2.2.10 s-maxage wins', [['Cache-Control', 'max-age=3600'], ['Cache-Control', 's-maxage=1']], 'fetched'),
  pair('freshness-max-age-s-maxage-shared-shorter', '5.2.2.10 s-maxage wins', [['Cache-Control', 'max-age=1, s-maxage=3600']], 'cached'),
  pair('freshness-none', '4.2.2 no heuristic freshness (warpdrive)', [], 'fetched'),
  // Expires
  pair('freshness-expires-future', '5.3 Expires', [['Expires', 30 * 24 * 3600], ['Date', 0]], 'cached'),
  pair('freshness-expires-past', '5.3 Expires', [['Expires', -30 * 24 * 3600], ['Date', 0]], 'fetched'),
  pair('freshness-expires-present', '5.3 Expires', [['Expires', 0], ['Date', 0]], 'fetched', 0),
  pair('freshness-expires-old-date', '4.2.1 Expires minus Date', [['Expires', 300], ['Date', 400]], 'fetched'),
  ...(
    [
      ['invalid', '0'],
      ['invalid-utc', 'Thu, 18 Aug 2050 02:01:18 UTC'],
      ['invalid-2-digit-year', 'Thu, 18 Aug 50 02:01:18 GMT'],
      ['invalid-no-comma', 'Thu 18 Aug 2050 02:01:18 GMT'],
      ['invalid-multiple-spaces', 'Thu, 18  Aug  2050 02:01:18 GMT'],
      ['invalid-date-dashes', 'Thu, 18-Aug-2050 02:01:18 GMT'],
      ['invalid-time-periods', 'Thu, 18 Aug 2050 02.01.18 GMT'],
      ['invalid-1-digit-hour', 'Thu, 18 Aug 2050 2:01:18 GMT'],
    ] as const
  ).map(([name, value]) => pair(`freshness-expires-${name}`, '5.3 invalid Expires is in the past', [['Expires', value], ['Date', 0]], 'fetched')),
  pair('freshness-expires-wrong-case-weekday', '5.3 lenient names', [['Expires', 'THU, 18 Aug 2050 02:01:18 GMT'], ['Date', 0]], 'cached'),
  pair('freshness-expires-invalid-date', '4.2.1 invalid Date: use arrival time', [['Date', 'foo'], ['Expires', 10]], 'cached', 0),
  pair('freshness-expires-age-slow-date', '4.2.3 Age counts', [['Date', -10], ['Expires', 10], ['Age', '25']], 'fetched', 0),
  pair('freshness-expires-age-fast-date', '4.2.3 Age counts', [['Date', 10], ['Expires', 20], ['Age', '15']], 'fetched', 0),
];

const directiveCases: Case[] = [
  pair('cc-resp-private-shared', '5.2.2.7 private', [['Cache-Control', 'private, max-age=3600']], 'fetched', 0),
  pair('cc-resp-no-store', '5.2.2.5 no-store', [['Cache-Control', 'no-store']], 'fetched', 0),
  pair('cc-resp-no-store-case-insensitive', '5.2.2.5 no-store', [['Cache-Control', 'No-StOrE']], 'fetched', 0),
  pair('cc-resp-no-store-fresh', '5.2.2.5 no-store', [['Cache-Control', 'max-age=10000, no-store'], ['Expires', 10000], ['Date', 0]], 'fetched', 0),
  {
    id: 'cc-resp-no-store-old-new',
    rule: '5.2.2.5 a fresh stored response is used',
    steps: [
      { headers: [['Cache-Control', 'max-age=10000'], ['Expires', 10000], ['Date', 0], ['A', '1']], then: PAUSE },
      { headers: [['Cache-Control', 'no-store'], ['Date', 0], ['A', '2']], then: PAUSE },
      { expect: 'cached', expectHeaders: [['a', '1']] },
    ],
  },
  pair('cc-resp-no-cache', '5.2.2.4 no-cache', [['Cache-Control', 'max-age=10000, no-cache'], ['Expires', 10000], ['Date', 0]], 'fetched', 0),
  pair('cc-resp-no-cache-case-insensitive', '5.2.2.4 no-cache', [['Cache-Control', 'max-age=10000, No-CaChE'], ['Expires', 10000], ['Date', 0]], 'fetched', 0),
  pair('cc-resp-no-cache-revalidate', '5.2.2.4 no-cache: store and revalidate', [['Cache-Control', 'no-cache'], ['ETag', '"abcd"']], 'etag-validated', 0, { status: 304, headers: [['ETag', '"abcd"']], expectStatus: 200 }),
  pair('cc-resp-no-cache-revalidate-fresh', '5.2.2.4 no-cache: store and revalidate', [['Cache-Control', 'max-age=10000, no-cache'], ['Expires', 10000], ['Date', 0], ['ETag', '"abcd"']], 'etag-validated', 0, {
    status: 304,
    headers: [['ETag', '"abcd"']],
    expectStatus: 200,
  }),
  pair('cc-resp-must-revalidate-fresh', '5.2.2.2 must-revalidate while fresh', [['Cache-Control', 'max-age=10000, must-revalidate'], ['ETag', '"abcd"']], 'cached', 0),
  {
    id: 'cc-resp-must-revalidate-stale',
    rule: '5.2.2.2 must-revalidate once stale',
    steps: [
      { headers: [['Cache-Control', 'max-age=2, must-revalidate'], ['ETag', '"abcd"']] },
      { expect: 'cached', then: PAUSE },
      { expect: 'etag-validated', status: 304, headers: [['ETag', '"abcd"']], expectStatus: 200 },
    ],
  },
  pair('headers-omit-headers-listed-in-Cache-Control-no-cache-single', '5.2.2.4 qualified no-cache', [['Cache-Control', 'no-cache="a"'], ['a', '1'], ['b', '2'], ['Cache-Control', 'max-age=3600'], ['Date', 0]], 'cached', PAUSE, {
    expectHeaders: [['b', '2']],
    expectMissing: ['a'],
  }),
  pair('headers-omit-headers-listed-in-Cache-Control-no-cache', '5.2.2.4 qualified no-cache', [['Cache-Control', 'no-cache="a, b"'], ['a', '1'], ['b', '2'], ['c', '3'], ['Cache-Control', 'max-age=3600'], ['Date', 0]], 'cached', PAUSE, {
    expectHeaders: [['c', '3']],
    expectMissing: ['a', 'b'],
  }),
  pair('rfc9111-5.2.2.7-private-qualified', '5.2.2.7 qualified private: stored without the fields', [['Cache-Control', 'private="x-user", max-age=3600'], ['X-User', 'alice'], ['X-Shared', '1']], 'cached', 0, {
    expectHeaders: [['x-shared', '1']],
    expectMissing: ['x-user'],
  }),
  pair('headers-omit-headers-listed-in-Connection', '3.1 Connection-listed fields', [['Connection', 'a, b'], ['a', '1'], ['b', '2'], ['c', '3'], ['Cache-Control', 'max-age=3600'], ['Date', 0]], 'cached', PAUSE, {
    expectHeaders: [['c', '3']],
    expectMissing: ['a', 'b'],
  }),
  pair('rfc9111-3.1-proxy-authenticate', '3.1 proxy fields not stored', [['Cache-Control', 'max-age=3600'], ['Proxy-Authenticate', 'Basic']], 'cached', 0, { expectMissing: ['proxy-authenticate'] }),
  {
    id: 'other-authorization',
    rule: '3.5 a response to a request with Authorization is not reused',
    steps: [
      { requestHeaders: [['Authorization', 'FOO']], expectUpstreamHeaders: [['authorization', 'FOO']], headers: [['Expires', 30 * 24 * 3600], ['Date', 0]], then: PAUSE },
      { expect: 'fetched' },
    ],
  },
  {
    id: 'other-authorization-public',
    rule: '3.5 unless public',
    steps: [{ requestHeaders: [['Authorization', 'FOO']], headers: [['Cache-Control', 'max-age=3600, public'], ['Date', 0]], then: PAUSE }, { expect: 'cached' }],
  },
  pair('rfc9111-5.2.2.3-must-understand', '5.2.2.3 must-understand overrides no-store', [['Cache-Control', 'max-age=3600, no-store, must-understand']], 'cached', 0),
];

const statusCodes = [200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599];
const statusCases: Case[] = statusCodes.flatMap((code) => [
  { id: `status-${code}-fresh`, rule: '3 any final status with explicit freshness', steps: [{ status: code, headers: fresh() }, { expect: 'cached' as const, expectStatus: code }] },
  { id: `status-${code}-stale`, rule: '4 a stale response is not reused', steps: [{ status: code, headers: staleTemplate }, { expect: 'fetched' as const, status: code }] },
]);
const heuristicCases: Case[] = [201, 202, 403, 502, 503, 504, 599].map((code) => ({
  id: `heuristic-${code}-not_cached`,
  rule: '4.2.2 no heuristic freshness for this status',
  steps: [{ status: code, headers: [['Last-Modified', -24 * 3600], ['Date', 0]] }, { expect: 'fetched' as const, status: code }],
}));

const varySetup = (vary: (readonly [string, Value])[], requestHeaders: (readonly [string, string])[]): Step => ({
  requestHeaders,
  headers: [['Expires', 5000], ['Last-Modified', -3000], ['Date', 0], ...vary],
});
const varyCases: Case[] = [
  { id: 'vary-match', rule: '4.1 Vary match', steps: [varySetup([['Vary', 'Foo']], [['Foo', '1']]), { requestHeaders: [['Foo', '1']], expect: 'cached' }] },
  { id: 'vary-no-match', rule: '4.1 Vary mismatch', steps: [varySetup([['Vary', 'Foo']], [['Foo', '1']]), { requestHeaders: [['Foo', '2']], expect: 'fetched' }] },
  { id: 'vary-omit', rule: '4.1 absent header', steps: [varySetup([['Vary', 'Foo']], [['Foo', '1']]), { expect: 'fetched' }] },
  {
    id: 'vary-invalidate',
    rule: '4.1 variants coexist',
    steps: [
      { ...varySetup([['Vary', 'Foo']], [['Foo', '1']]), body: 'foo_1' },
      { ...varySetup([['Vary', 'Foo']], [['Foo', '2']]), body: 'foo_2', expect: 'fetched' },
      { requestHeaders: [['Foo', '1']], expect: 'cached' },
    ],
  },
  { id: 'vary-cache-key', rule: '4.1 only Vary headers', steps: [varySetup([['Vary', 'Foo']], [['Foo', '1'], ['Other', '2']]), { requestHeaders: [['Foo', '1'], ['Other', '3']], expect: 'cached' }] },
  { id: 'vary-2-match', rule: '4.1', steps: [varySetup([['Vary', 'Foo, Bar']], [['Foo', '1'], ['Bar', 'abc']]), { requestHeaders: [['Foo', '1'], ['Bar', 'abc']], expect: 'cached' }] },
  { id: 'vary-2-no-match', rule: '4.1', steps: [varySetup([['Vary', 'Foo, Bar']], [['Foo', '1'], ['Bar', 'abc']]), { requestHeaders: [['Foo', '2'], ['Bar', 'abc']], expect: 'fetched' }] },
  { id: 'vary-2-match-omit', rule: '4.1', steps: [varySetup([['Vary', 'Foo, Bar']], [['Foo', '1']]), { expect: 'fetched' }] },
  { id: 'vary-3-no-match', rule: '4.1', steps: [varySetup([['Vary', 'Foo, Bar, Baz']], [['Foo', '1'], ['Bar', 'abc'], ['Baz', '789']]), { requestHeaders: [['Foo', '2'], ['Bar', 'abc'], ['Baz', '789']], expect: 'fetched' }] },
  { id: 'vary-3-order', rule: '4.1', steps: [varySetup([['Vary', 'Foo, Bar, Baz']], [['Foo', '1'], ['Bar', 'abc4'], ['Baz', '789']]), { requestHeaders: [['Foo', '1'], ['Bar', 'abc'], ['Baz', '789']], expect: 'fetched' }] },
  { id: 'vary-3-omit', rule: '4.1 absent matches absent', steps: [varySetup([['Vary', 'Foo, Bar, Baz']], [['Foo', '1'], ['Baz', '789']]), { requestHeaders: [['Foo', '1'], ['Baz', '789']], expect: 'cached' }] },
  { id: 'vary-normalise-space', rule: '4.1 whitespace', steps: [varySetup([['Vary', 'Foo']], [['Foo', '1,2']]), { requestHeaders: [['Foo', ' 1, 2 ']], expect: 'cached' }] },
  { id: 'vary-normalise-combine', rule: '4.1 combined lines', steps: [varySetup([['Vary', 'Foo']], [['Foo', '1, 2']]), { requestHeaders: [['Foo', '1'], ['Foo', '2']], expect: 'cached' }] },
  ...(
    [
      ['vary-syntax-star', [['Vary', '*']]],
      ['vary-syntax-star-star', [['Vary', '*, *']]],
      ['vary-syntax-star-star-lines', [['Vary', '*'], ['Vary', '*']]],
      ['vary-syntax-empty-star', [['Vary', ', *']]],
      ['vary-syntax-empty-star-lines', [['Vary', ''], ['Vary', '*']]],
      ['vary-syntax-star-foo', [['Vary', '*, Foo']]],
      ['vary-syntax-foo-star', [['Vary', 'Foo, *']]],
    ] as const
  ).map(([id, vary]): Case => ({ id, rule: '4.1 Vary: * never matches', steps: [varySetup([...vary], [['Foo', '1'], ['Baz', '789']]), { requestHeaders: [['Foo', '1'], ['Baz', '789']], expect: 'fetched' }] })),
];

const otherCases: Case[] = [
  pair('other-age-gen', '4 / 5.1 Age generated', [['Expires', 30 * 24 * 3600], ['Date', 0]], 'cached', PAUSE, { expectHeaders: [['age', /^([3-9]|\d\d+)$/]] }),
  pair('other-age-update-expires', '4.2.3 Age updated', [['Expires', 30 * 24 * 3600], ['Date', 0], ['Age', '30']], 'cached', PAUSE, { expectHeaders: [['age', /^(3[3-9]|[4-9]\d|\d{3,})$/]] }),
  pair('other-age-update-max-age', '4.2.3 Age updated', [['Cache-Control', 'max-age=600'], ['Date', 0], ['Age', '30']], 'cached', PAUSE, { expectHeaders: [['age', /^(3[3-9]|[4-9]\d|\d{3,})$/]] }),
  { id: 'query-args-different', rule: '4 the URI is the key', steps: [{ query: 'test=1', headers: fresh() }, { query: 'test=2', expect: 'fetched' }] },
  { id: 'query-args-same', rule: '4 the URI is the key', steps: [{ query: 'test=1', headers: fresh() }, { query: 'test=1', expect: 'cached' }] },
  pair('other-cookie', '4 Cookie does not prevent reuse', [['Cache-Control', 'max-age=3600']], 'cached', 0, { requestHeaders: [['Cookie', 'a=b']] }),
  pair('other-fresh-content-disposition-attachment', '3', [['Cache-Control', 'max-age=3600'], ['Content-Disposition', 'attachment; filename=example.txt']], 'cached', 0),
  {
    id: 'rfc9111-4-unsafe-write-through',
    rule: '4 unsafe methods are written through',
    steps: [{ headers: fresh() }, { method: 'POST', body: 'x', expect: 'fetched' }],
  },
  {
    id: 'rfc9111-4-head-from-get',
    rule: '4 a stored GET answers HEAD',
    steps: [{ headers: fresh() }, { method: 'HEAD', expect: 'cached' }],
  },
];

const conditionalCases: Case[] = [
  pair('conditional-etag-strong-respond', '4.3.2 client If-None-Match', fresh([['ETag', '"abcdef"']]), 'cached', 0, { requestHeaders: [['If-None-Match', '"abcdef"']], expectStatus: 304 }),
  pair('conditional-304-etag', '4.3.2 / RFC 9110 15.4.5 ETag in a 304', fresh([['ETag', '"abcdef"']]), 'cached', 0, {
    requestHeaders: [['If-None-Match', '"abcdef"']],
    expectStatus: 304,
    expectHeaders: [['etag', '"abcdef"']],
  }),
  pair('conditional-etag-precedence', '4.3.2 If-None-Match before If-Modified-Since', fresh([['Last-Modified', -5000], ['ETag', '"abcdef"']]), 'cached', 0, {
    requestHeaders: [['If-None-Match', '"abcdef"'], ['If-Modified-Since', 'Thu, 01 Jan 1970 00:00:00 GMT']],
    expectStatus: 304,
  }),
  pair('conditional-etag-weak-respond', '4.3.2 weak comparison', fresh([['ETag', 'W/"abcdef"']]), 'cached', 0, { requestHeaders: [['If-None-Match', 'W/"abcdef"']], expectStatus: 304 }),
  pair('conditional-etag-strong-respond-multiple-second', '4.3.2 a list', fresh([['ETag', '"abcdef"']]), 'cached', 0, {
    requestHeaders: [['If-None-Match', '"1234", "abcdef", "5678"']],
    expectStatus: 304,
  }),
  pair('conditional-lm-fresh', '4.3.2 If-Modified-Since', [['Cache-Control', 'max-age=100000'], ['Last-Modified', -3000], ['Date', 0]], 'cached', PAUSE, {
    requestHeaders: [['If-Modified-Since', -3000 - PAUSE]],
    expectStatus: 304,
  }),
  pair('conditional-lm-fresh-earlier', '4.3.2 If-Modified-Since after Last-Modified', [['Cache-Control', 'max-age=100000'], ['Last-Modified', -3000], ['Date', 0]], 'cached', PAUSE, {
    requestHeaders: [['If-Modified-Since', -2000]],
    expectStatus: 304,
  }),
  pair('rfc9111-4.3.2-date-for-lm', '4.3.2 the stored Date stands in for a missing Last-Modified', [['Cache-Control', 'max-age=10000'], ['Date', 0]], 'cached', PAUSE, {
    requestHeaders: [['If-Modified-Since', -1]],
    expectStatus: 304,
  }),
  {
    id: 'conditional-etag-vary-headers',
    rule: '4.3.1 the conditional request carries the Vary headers',
    steps: [
      { requestHeaders: [['Abc', '123']], headers: [['Expires', 1], ['ETag', '"abcdef"'], ['Date', 0], ['Vary', 'Abc']], then: PAUSE },
      { requestHeaders: [['Abc', '123']], expect: 'etag-validated', status: 304, headers: [['ETag', '"abcdef"']], expectUpstreamHeaders: [['abc', '123']] },
    ],
  },
  {
    id: 'conditional-etag-strong-generate',
    rule: '4.3.1 MUST send the entity tag',
    steps: [
      { headers: [['Cache-Control', 'max-age=2'], ['ETag', '"abcdef"']], then: PAUSE },
      { expect: 'etag-validated', status: 304, headers: [['ETag', '"abcdef"']], expectUpstreamHeaders: [['if-none-match', '"abcdef"']] },
    ],
  },
  {
    id: 'conditional-lm-stale',
    rule: '4.3.1 / 4.3.2 validated, then the client\'s conditional answered',
    steps: [
      { headers: [['Cache-Control', 'max-age=2'], ['Last-Modified', -3000], ['Date', 0]], then: PAUSE },
      { requestHeaders: [['If-Modified-Since', -3000 - PAUSE]], expect: 'lm-validated', status: 304, expectStatus: 304 },
    ],
  },
];

/** 304 updates (RFC 9111 3.2, 4.3.4), for one header name. */
function update304(name: string, a: string, b: string): Case[] {
  const etag = `"${name}-etag-1"`;
  const lm = -24 * 3600;
  const response = (value: string, validator: 'ETag' | 'Last-Modified', lifetime: number): (readonly [string, Value])[] => [
    name === 'Cache-Control' ? ['a', 'b'] : ['Cache-Control', `max-age=${lifetime}`],
    ['Date', 0],
    [validator, validator === 'ETag' ? etag : lm],
    [name, value],
  ];
  const kind = (validator: 'ETag' | 'Last-Modified') => (validator === 'ETag' ? 'etag-validated' : 'lm-validated') as Step['expect'];
  const cases: Case[] = [];
  for (const validator of ['Last-Modified', 'ETag'] as const) {
    const short = validator === 'ETag' ? 'etag' : 'lm';
    cases.push({
      id: `304-${short}-update-response-${name}`,
      rule: '4.3.4 the 304 updates the response served',
      steps: [
        { headers: response(a, validator, 1), then: PAUSE },
        { status: 304, headers: response(b, validator, 3600), expect: kind(validator), expectStatus: 200, expectHeaders: [[name.toLowerCase(), b]] },
      ],
    });
    cases.push({
      id: `304-${short}-update-stored-${name}`,
      rule: '4.3.4 the 304 updates the stored response',
      steps: [
        { headers: response(a, validator, 1), then: PAUSE },
        { status: 304, headers: response(b, validator, 3600), expect: kind(validator), then: PAUSE },
        { expect: 'cached', expectHeaders: [[name.toLowerCase(), b]] },
      ],
    });
  }
  return cases;
}

const updateCases: Case[] = [
  {
    id: '304-lm-use-stored-Test-Header',
    rule: '3.2 stored fields a 304 omits are kept',
    steps: [
      { headers: [['Cache-Control', 'max-age=1'], ['Last-Modified', -24 * 3600], ['Date', 0], ['Test-Header', 'A']], then: PAUSE },
      { status: 304, headers: [['Cache-Control', 'max-age=3600'], ['Last-Modified', -24 * 3600], ['Date', 0]], expect: 'lm-validated', expectHeaders: [['test-header', 'A']] },
    ],
  },
  ...(
    [
      ['Test-Header', 'A', 'B'],
      ['X-Test-Header', 'A', 'B'],
      ['Content-Foo', 'A', 'B'],
      ['X-Content-Foo', 'A', 'B'],
      ['Content-Type', 'text/plain', 'text/plain;charset=utf-8'],
      ['Content-MD5', 'rL0Y20zC+Fzt72VPzMSk2A==', 'N7UdGUp1E+RbVvZSTy1R8g=='],
      ['Content-Location', '/foo', '/bar'],
      ['Content-Security-Policy', "default-src 'self'", "default-src 'self' cdn.example.com"],
      ['X-Frame-Options', 'deny', 'sameorigin'],
      ['X-XSS-Protection', '1', '1; mode=block'],
      ['Cache-Control', 'max-age=1', 'max-age=3600'],
      ['Clear-Site-Data', 'cache', 'cookies'],
      ['Public-Key-Pins', 'A', 'B'],
    ] as const
  ).flatMap(([name, a, b]) => update304(name, a, b)),
];
// Expires can only be updated with values relative to the clock at response time.
updateCases.push(
  ...update304('Expires', 'placeholder-a', 'placeholder-b').map((c) => ({
    ...c,
    steps: c.steps.map((step) => ({
      ...step,
      headers: step.headers?.map(([n, v]): readonly [string, Value] => (n === 'Expires' ? [n, v === 'placeholder-a' ? 1 : 3600] : [n, v])),
      expectHeaders: step.expectHeaders?.map(([n]): readonly [string, string | RegExp] => [n, / GMT$/]),
    })),
  })),
);

const invalidationCases: Case[] = ['POST', 'PUT', 'DELETE', 'M-SEARCH'].flatMap((method): Case[] => [
  { id: `invalidate-${method}`, rule: '4.4 invalidate the target URI', steps: [{ headers: fresh() }, { method, body: 'abc' }, { expect: 'fetched' }] },
  { id: `invalidate-${method}-failed`, rule: '4.4 only on success', steps: [{ headers: fresh() }, { method, body: 'abc', status: 500 }, { expect: 'cached' }] },
  {
    id: `invalidate-${method}-location`,
    rule: '4.4 invalidate Location',
    paths: { 0: '/location_target', 2: '/location_target' },
    steps: [{ headers: fresh() }, { method: 'POST', body: 'abc', headers: [['Location', '/location_target']] }, { expect: 'fetched' }],
  },
  {
    id: `invalidate-${method}-cl`,
    rule: '4.4 invalidate Content-Location',
    paths: { 0: '/content_location_target', 2: '/content_location_target' },
    steps: [{ headers: fresh() }, { method, body: 'abc', headers: [['Content-Location', '/content_location_target']] }, { expect: 'fetched' }],
  },
]);

const staleCases: Case[] = [
  // Explicit revalidation directives win over stale-if-error (the most restrictive directive is honoured, 4.2.1).
  ...(['must-revalidate', 'proxy-revalidate', 'no-cache'] as const).map(
    (cc): Case => ({
      id: `stale-close-${cc}`,
      rule: '4.2.4 no stale when a directive forbids it, stale-if-error or not',
      steps: [{ headers: [['Cache-Control', `max-age=2, ${cc}, stale-if-error=60`]], then: PAUSE }, { disconnect: true, expect: 'fetched', expectStatus: 502 }],
    }),
  ),
  {
    id: 'stale-close-s-maxage=2',
    rule: '5.2.2.10 s-maxage implies proxy-revalidate',
    steps: [{ headers: [['Cache-Control', 'max-age=2, s-maxage=2']], then: PAUSE }, { disconnect: true, expect: 'fetched', expectStatus: 502 }],
  },
  {
    // s-maxage's revalidation is implied, stale-if-error is explicit: the origin asked for it (RFC 5861 4 "regardless").
    id: 'rfc5861-stale-if-error-with-s-maxage',
    rule: 'RFC 5861 4: an explicit stale-if-error applies with s-maxage',
    steps: [{ headers: [['Cache-Control', 's-maxage=2, stale-if-error=60']], then: PAUSE }, { disconnect: true, expect: 'fetched', expectStatus: 200 }],
  },
  {
    id: 'stale-if-error-cc-response-expired',
    rule: 'RFC 5861 4: not after stale-if-error has run out',
    steps: [{ headers: [['Cache-Control', 'max-age=0, stale-if-error=1']], then: PAUSE }, { status: 500, expect: 'fetched', expectStatus: 500 }],
  },
  {
    id: 'stale-if-error-cc-response',
    rule: 'RFC 5861 4: stale-if-error on a 500',
    steps: [{ headers: [['Cache-Control', 'max-age=0, stale-if-error=3600']] }, { status: 500, expect: 'fetched', expectStatus: 200 }],
  },
  {
    id: 'stale-sie-close',
    rule: 'RFC 5861 4: stale-if-error on a closed connection',
    steps: [{ headers: [['Cache-Control', 'max-age=2, stale-if-error=60']], then: PAUSE }, { disconnect: true, expect: 'fetched', expectStatus: 200 }],
  },
  {
    id: 'rfc9111-4.2.4-no-stale-without-permission',
    rule: '4.2.4 no stale without explicit permission',
    steps: [{ headers: [['Cache-Control', 'max-age=2']], then: PAUSE }, { disconnect: true, expect: 'fetched', expectStatus: 502 }],
  },
  {
    id: 'stale-while-revalidate',
    rule: 'RFC 5861 3',
    steps: [
      { headers: [['Cache-Control', 'max-age=0, stale-while-revalidate=3600'], ['ETag', '"abc"']] },
      // Served stale at once; the revalidation happens in the background.
      { expect: 'cached', status: 200, headers: [['Cache-Control', 'max-age=3600'], ['ETag', '"def"']], expectHeaders: [['etag', '"abc"']] },
      { settle: true, expect: 'cached', expectHeaders: [['etag', '"def"']] },
    ],
  },
];

const cdnCases: Case[] = [
  pair('cdn-max-age', 'RFC 9213', [['CDN-Cache-Control', 'max-age=3600']], 'cached'),
  pair('cdn-max-age-age', 'RFC 9213', [['Date', 0], ['CDN-Cache-Control', 'max-age=3600'], ['Age', '7200']], 'fetched'),
  pair('cdn-max-age-0', 'RFC 9213', [['CDN-Cache-Control', 'max-age=0']], 'fetched'),
  pair('cdn-max-age-0-expires', 'RFC 9213', [['CDN-Cache-Control', 'max-age=0'], ['Expires', 10000], ['Date', 0]], 'fetched'),
  pair('cdn-max-age-short-cc-max-age', 'RFC 9213', [['Cache-Control', 'max-age=1'], ['CDN-Cache-Control', 'max-age=3600']], 'cached'),
  pair('cdn-max-age-long-cc-max-age', 'RFC 9213', [['Cache-Control', 'max-age=3600'], ['CDN-Cache-Control', 'max-age=1']], 'fetched'),
  pair('cdn-private', 'RFC 9213', [['CDN-Cache-Control', 'private'], ['Cache-Control', 'max-age=10000'], ['Expires', 10000], ['Date', 0]], 'fetched', 0),
  pair('cdn-no-cache', 'RFC 9213', [['CDN-Cache-Control', 'no-cache'], ['Cache-Control', 'max-age=10000'], ['Expires', 10000], ['Date', 0]], 'fetched', 0),
  pair('cdn-no-store-cc-fresh', 'RFC 9213', [['Cache-Control', 'max-age=10000'], ['CDN-Cache-Control', 'no-store'], ['Expires', 10000], ['Date', 0]], 'fetched'),
  pair('cdn-fresh-cc-nostore', 'RFC 9213', [['Cache-Control', 'no-store'], ['CDN-Cache-Control', 'max-age=10000']], 'cached'),
  pair('cdn-cc-invalid-sh-type-unknown', 'RFC 9213 invalid field ignored', [['CDN-Cache-Control', 'max-age=10000, &&&&&'], ['Cache-Control', 'no-store']], 'fetched'),
  pair('cdn-cc-invalid-sh-type-wrong', 'RFC 9213 wrong type ignored', [['CDN-Cache-Control', 'max-age="10000"'], ['Cache-Control', 'no-store']], 'fetched'),
  pair('surrogate-max-age-long-cc-max-age', 'Surrogate-Control', [['Cache-Control', 'max-age=3600'], ['Surrogate-Control', 'max-age=1']], 'fetched'),
  pair('surrogate-max-age-space-after-equals', 'Surrogate-Control', [['Cache-Control', 'max-age=1'], ['Surrogate-Control', 'max-age= 100']], 'fetched'),
  pair('surrogate-no-store-cc-fresh', 'Surrogate-Control', [['Cache-Control', 'max-age=10000'], ['Surrogate-Control', 'no-store'], ['Expires', 10000], ['Date', 0]], 'fetched'),
];

const allCases: Case[] = [
  ...freshnessCases,
  ...directiveCases,
  ...statusCases,
  ...heuristicCases,
  ...varyCases,
  ...otherCases,
  ...conditionalCases,
  ...updateCases,
  ...invalidationCases,
  ...staleCases,
  ...cdnCases,
];

/**
 * Deviations, each with its reason. These cases run like the others and assert
 * the deviation, so that if it ever changes the test says so.
 */
const deviations: Record<string, string> = {};
// Set-Cookie is never stored (issue 17: one client's cookie must not reach another), so a 304 has nothing to update;
// Set-Cookie2, its obsolete twin, is treated alike.
for (const name of ['Set-Cookie', 'Set-Cookie2']) {
  for (const c of update304(name, 'a=b', 'a=c')) {
    allCases.push(c);
    deviations[c.id] = `${name} is never stored`;
  }
}

// ---------------------------------------------------------------------------
// The machinery

/** Which step of which case a request belongs to: sent by the client, forwarded by the cache. */
const CASE = 'x-case';
const STEP = 'x-step';

function headerValue(value: Value): string {
  return typeof value === 'number' ? formatHttpDate(Math.floor(clock.now() / 1000) * 1000 + value * 1000) : value;
}

interface Seen {
  readonly step: number;
  readonly headers: http.IncomingHttpHeaders;
}

const casesById = new Map(allCases.map((c) => [c.id, c]));
const seen = new Map<string, Seen[]>();
let upstream: http.Server;
let harness: CacheHarness;
let revalidator: HttpRevalidator;
let base = '';
const client = new Agent();

before(async () => {
  const realNow = Date.now();
  let offset = 0;
  clock.now = () => realNow + offset;
  (globalThis as { advanceClock?: (s: number) => void }).advanceClock = (seconds) => (offset += seconds * 1000);

  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers[CASE]);
      const step = Number(req.headers[STEP]);
      const c = casesById.get(id)!;
      (seen.get(id) ?? seen.set(id, []).get(id)!).push({ step, headers: req.headers });
      const spec = c.steps[step]!;
      if (spec.disconnect) {
        req.socket.destroy();
        return;
      }
      const status = spec.status ?? 200;
      // Dates come from the cache's clock, as the steps give them; none is added behind their back.
      res.sendDate = false;
      const headers: string[] = [];
      for (const [name, value] of spec.headers ?? []) headers.push(name, headerValue(value));
      const body = status === 304 || status === 204 || req.method === 'HEAD' ? '' : (spec.body ?? `${id} step ${step}`);
      if (status !== 304 && status !== 204) headers.push('Content-Length', String(Buffer.byteLength(body)));
      res.writeHead(status, headers);
      res.end(body);
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const port = (upstream.address() as AddressInfo).port;
  revalidator = new HttpRevalidator(port);
  const cache = new ResponseCache({ capacityBytes: 64 * 1024 * 1024, maxObjectBytes: 1024 * 1024, ignoreQueryParams: { names: [], prefixes: [] }, lockTimeoutMs: 5000 });
  harness = new CacheHarness(cache, port, undefined, revalidator);
  base = await harness.listen();
});

after(async () => {
  revalidator.close();
  await harness.close();
  upstream.closeAllConnections();
  upstream.close();
  await client.close();
});

/** Waits until no background revalidation is in flight (bounded: a stuck one fails the test). */
async function settle(): Promise<void> {
  for (let i = 0; i < 400 && harness.filter.cache.revalidationsInFlight > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(harness.filter.cache.revalidationsInFlight, 0, 'a background revalidation did not finish within 2 s');
}

function advance(seconds: number): void {
  (globalThis as unknown as { advanceClock: (s: number) => void }).advanceClock(seconds);
}

async function run(c: Case): Promise<void> {
  for (let i = 0; i < c.steps.length; i++) {
    const step = c.steps[i]!;
    const path = c.paths?.[i] ?? `/case/${c.id}`;
    const headers: string[] = [CASE, c.id, STEP, String(i)];
    for (const [name, value] of step.requestHeaders ?? []) headers.push(name, headerValue(value));
    if (step.settle) await settle();
    const before = (seen.get(c.id) ?? []).length;
    const response = await request(`${base}${path}${step.query === undefined ? '' : `?${step.query}`}`, {
      method: (step.method ?? 'GET') as 'GET',
      headers,
      body: step.body,
      dispatcher: client,
    });
    const text = await response.body.text();
    const arrived = (seen.get(c.id) ?? []).slice(before);
    const where = `${c.id} step ${i} (${c.rule})`;
    if (step.expect !== undefined) {
      if (step.expect === 'cached') assert.equal(arrived.length, 0, `${where}: expected an answer from the cache, the upstream saw the request`);
      else {
        assert.ok(arrived.length >= 1, `${where}: expected the request to reach the upstream`);
        const up = arrived[0]!.headers;
        if (step.expect === 'etag-validated') assert.ok(up['if-none-match'] !== undefined, `${where}: no If-None-Match upstream`);
        if (step.expect === 'lm-validated') assert.ok(up['if-modified-since'] !== undefined, `${where}: no If-Modified-Since upstream`);
      }
    }
    if (step.expectStatus !== undefined) assert.equal(response.statusCode, step.expectStatus, `${where}: status`);
    for (const [name, expected] of step.expectHeaders ?? []) {
      const raw = response.headers[name];
      const actual = Array.isArray(raw) ? raw.join(', ') : raw;
      if (expected instanceof RegExp) assert.match(actual ?? '', expected, `${where}: ${name}`);
      else assert.equal(actual, expected, `${where}: ${name}`);
    }
    for (const name of step.expectMissing ?? []) assert.equal(response.headers[name], undefined, `${where}: ${name} must not be served`);
    for (const [name, value] of step.expectUpstreamHeaders ?? []) assert.equal(arrived[0]?.headers[name], value, `${where}: upstream ${name}`);
    void text;
    if (step.then !== undefined) advance(step.then);
  }
}

describe('RFC 9111 shared-cache conformance', () => {
  for (const c of allCases) {
    const deviation = deviations[c.id];
    if (deviation === undefined) {
      it(`${c.id}: ${c.rule}`, async () => run(c));
    } else {
      it(`${c.id}: deviates (${deviation})`, async () => {
        await assert.rejects(run(c), `${c.id} now conforms: remove it from the deviations`);
      });
    }
  }
});
