/**
 * Storage and freshness decisions (RFC 9111 3, 4.2; RFC 5861; RFC 9213), one
 * rule per test, each against a plain GET unless it says otherwise.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatHttpDate } from '../helpers/http-date.js';
import { decideStorage, responseTags, type RequestFacts, type StorageDecision, type StoragePlan } from '../../src/cache/storage-policy.js';

const now = Math.floor(Date.now() / 1000) * 1000;
const get: RequestFacts = { method: 'GET', hasAuthorization: false, noStore: false };

function decide(headers: string[], options: { status?: number; request?: Partial<RequestFacts>; defaultTtlMs?: number; requestTimeMs?: number } = {}): StorageDecision {
  return decideStorage({ ...get, ...options.request }, options.status ?? 200, headers, options.requestTimeMs ?? now, now, options.defaultTtlMs);
}

function stored(decision: StorageDecision): StoragePlan {
  assert.ok(decision.storable, `expected storable, got ${JSON.stringify(decision)}`);
  return decision;
}

function reason(decision: StorageDecision): string {
  assert.ok(!decision.storable, 'expected not storable');
  return decision.reason;
}

describe('what is stored', () => {
  it('a GET with max-age: fresh for max-age from now', () => {
    const plan = stored(decide(['Cache-Control', 'max-age=60']));
    assert.equal(plan.staleAtMs, now + 60_000);
    assert.equal(plan.initialAgeMs, 0);
  });

  it('nothing but GET', () => {
    for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']) assert.equal(reason(decide(['Cache-Control', 'max-age=60'], { request: { method } })), 'method');
  });

  it('not when the request said no-store', () => {
    assert.equal(reason(decide(['Cache-Control', 'max-age=60'], { request: { noStore: true } })), 'request-no-store');
  });

  it('no 1xx, 206 or 304; any other final status with explicit freshness', () => {
    for (const status of [101, 206, 304]) assert.equal(reason(decide(['Cache-Control', 'max-age=60'], { status })), 'status');
    for (const status of [200, 203, 204, 299, 301, 404, 410, 499, 500, 503, 599]) stored(decide(['Cache-Control', 'max-age=60'], { status }));
  });

  it('not with no-store (any case), even with max-age and Expires', () => {
    assert.equal(reason(decide(['Cache-Control', 'max-age=10000, No-StOrE', 'Expires', formatHttpDate(now + 10_000_000)])), 'no-store');
  });

  it('must-understand overrides no-store for a status warpdrive understands, and refuses one it does not', () => {
    stored(decide(['Cache-Control', 'max-age=60, no-store, must-understand']));
    assert.equal(reason(decide(['Cache-Control', 'max-age=60, no-store, must-understand'], { status: 299 })), 'status');
  });

  it('not with private; a qualified private only keeps the named fields out', () => {
    assert.equal(reason(decide(['Cache-Control', 'private, max-age=3600'])), 'private');
    assert.deepEqual(stored(decide(['Cache-Control', 'private="x-user", max-age=3600'])).omittedHeaders, ['x-user']);
  });

  it('a request with Authorization only when public, s-maxage or must-revalidate allows it', () => {
    const auth = { request: { hasAuthorization: true } };
    assert.equal(reason(decide(['Expires', formatHttpDate(now + 3_600_000), 'Date', formatHttpDate(now)], auth)), 'authorization');
    for (const cc of ['max-age=3600, public', 's-maxage=3600', 'max-age=3600, must-revalidate']) stored(decide(['Cache-Control', cc], auth));
  });

  it('never with Vary: * in any form', () => {
    for (const vary of [['*'], ['*, *'], [', *'], ['Foo, *'], ['', '*']]) {
      const headers = ['Cache-Control', 'max-age=60', ...vary.flatMap((v) => ['Vary', v])];
      assert.equal(reason(decide(headers)), 'vary-star', JSON.stringify(vary));
    }
  });

  it('records the Vary names, lowercased and deduplicated', () => {
    assert.deepEqual(stored(decide(['Cache-Control', 'max-age=60', 'Vary', 'Accept-Encoding, Foo', 'vary', 'foo'])).varyNames, ['accept-encoding', 'foo']);
  });

  it('never with Set-Cookie, unless a no-cache/private field list keeps it out of the stored copy', () => {
    assert.equal(reason(decide(['Cache-Control', 'max-age=60, public', 'Set-Cookie', 'a=b'])), 'set-cookie');
    assert.equal(reason(decide(['Cache-Control', 'max-age=60', 'Set-Cookie2', 'a=b'])), 'set-cookie');
    assert.deepEqual(stored(decide(['Cache-Control', 'max-age=60, no-cache="Set-Cookie"', 'Set-Cookie', 'a=b'])).omittedHeaders, ['set-cookie']);
  });

  it('no heuristic freshness: a response that says nothing is not stored, with or without Last-Modified', () => {
    assert.equal(reason(decide([])), 'no-explicit-freshness');
    assert.equal(reason(decide(['Last-Modified', formatHttpDate(now - 86_400_000), 'Date', formatHttpDate(now)])), 'no-explicit-freshness');
    assert.equal(reason(decide(['Cache-Control', 'public'])), 'no-explicit-freshness');
  });

  it('the default TTL applies to responses without explicit freshness, only for statuses cacheable by default or public', () => {
    assert.equal(stored(decide([], { defaultTtlMs: 30_000 })).staleAtMs, now + 30_000);
    assert.equal(stored(decide([], { status: 404, defaultTtlMs: 30_000 })).staleAtMs, now + 30_000);
    for (const status of [201, 202, 403, 502, 503, 504, 599]) assert.equal(reason(decide([], { status, defaultTtlMs: 30_000 })), 'no-explicit-freshness', String(status));
    assert.equal(stored(decide(['Cache-Control', 'public'], { status: 599, defaultTtlMs: 30_000 })).staleAtMs, now + 30_000);
    // Explicit freshness always wins over the default.
    assert.equal(stored(decide(['Cache-Control', 'max-age=5'], { defaultTtlMs: 30_000 })).staleAtMs, now + 5_000);
  });

  it('no-cache with a validator: stored, but never fresh; without one: not worth storing', () => {
    const plan = stored(decide(['Cache-Control', 'max-age=10000, no-cache', 'ETag', '"abcd"']));
    assert.equal(plan.revalidateAlways, true);
    assert.equal(plan.staleAtMs, -Infinity);
    assert.equal(reason(decide(['Cache-Control', 'max-age=10000, no-cache'])), 'stale-on-arrival');
  });

  it('a response already stale without a validator or stale allowance is not stored', () => {
    assert.equal(reason(decide(['Cache-Control', 'max-age=0'])), 'stale-on-arrival');
    stored(decide(['Cache-Control', 'max-age=0', 'Last-Modified', formatHttpDate(now - 1000)]));
    stored(decide(['Cache-Control', 'max-age=0, stale-while-revalidate=60']));
  });
});

describe('freshness lifetime (RFC 9111 4.2.1)', () => {
  it('s-maxage wins over max-age, longer or shorter, in any order or line', () => {
    assert.equal(stored(decide(['Cache-Control', 'max-age=3600, s-maxage=1'])).staleAtMs, now + 1000);
    assert.equal(stored(decide(['Cache-Control', 's-maxage=1, max-age=3600'])).staleAtMs, now + 1000);
    assert.equal(stored(decide(['Cache-Control', 'max-age=3600', 'Cache-Control', 's-maxage=1'])).staleAtMs, now + 1000);
    assert.equal(stored(decide(['Cache-Control', 'max-age=1, s-maxage=3600'])).staleAtMs, now + 3_600_000);
  });

  it('max-age wins over Expires, past or invalid', () => {
    assert.equal(stored(decide(['Cache-Control', 'max-age=3600', 'Expires', formatHttpDate(now - 10_000_000), 'Date', formatHttpDate(now)])).staleAtMs, now + 3_600_000);
    assert.equal(stored(decide(['Cache-Control', 'max-age=3600', 'Expires', '0'])).staleAtMs, now + 3_600_000);
    assert.equal(reason(decide(['Cache-Control', 'max-age=0', 'Expires', formatHttpDate(now + 10_000_000)])), 'stale-on-arrival');
  });

  it('Expires minus Date; an invalid Expires, or two, is already expired', () => {
    const date = formatHttpDate(now);
    assert.equal(stored(decide(['Expires', formatHttpDate(now + 30_000), 'Date', date])).staleAtMs, now + 30_000);
    assert.equal(reason(decide(['Expires', '0', 'Date', date])), 'stale-on-arrival');
    assert.equal(reason(decide(['Expires', formatHttpDate(now + 300_000), 'Date', formatHttpDate(now + 400_000)])), 'stale-on-arrival');
    assert.equal(reason(decide(['Expires', formatHttpDate(now + 30_000), 'Expires', formatHttpDate(now + 30_000)])), 'stale-on-arrival');
    // An invalid Date is replaced by the time of arrival.
    assert.equal(stored(decide(['Expires', formatHttpDate(now + 30_000), 'Date', 'foo'])).staleAtMs, now + 30_000);
  });

  it('Age and Date make the response older on arrival (corrected initial age)', () => {
    assert.equal(reason(decide(['Cache-Control', 'max-age=10', 'Age', '15', 'Date', formatHttpDate(now)])), 'stale-on-arrival');
    const aged = stored(decide(['Cache-Control', 'max-age=600', 'Age', '30', 'Date', formatHttpDate(now)]));
    assert.equal(aged.initialAgeMs, 30_000);
    assert.equal(aged.staleAtMs, now + 570_000);
    // A Date in the past counts as apparent age even without Age.
    assert.equal(stored(decide(['Cache-Control', 'max-age=600', 'Date', formatHttpDate(now - 20_000)])).initialAgeMs, 20_000);
    // The time the request took counts too (response_delay).
    assert.equal(stored(decide(['Cache-Control', 'max-age=600', 'Age', '1'], { requestTimeMs: now - 500 })).initialAgeMs, 1500);
  });

  it('an Age that is not one line of digits is ignored', () => {
    for (const age of [['abc'], ['-7200'], ['7200.0'], ['7200,0'], ['7200', '0']]) {
      const headers = ['Cache-Control', 'max-age=3600', 'Date', formatHttpDate(now), ...age.flatMap((a) => ['Age', a])];
      assert.equal(stored(decide(headers)).initialAgeMs, 0, JSON.stringify(age));
    }
  });
});

describe('stale use (RFC 9111 4.2.4, RFC 5861)', () => {
  it('stale-while-revalidate and stale-if-error extend use past staleness', () => {
    const plan = stored(decide(['Cache-Control', 'max-age=10, stale-while-revalidate=20, stale-if-error=300']));
    assert.equal(plan.swrUntilMs, now + 30_000);
    assert.equal(plan.sieUntilMs, now + 310_000);
  });

  it('must-revalidate, proxy-revalidate and no-cache forbid both', () => {
    for (const cc of ['must-revalidate', 'proxy-revalidate']) {
      const plan = stored(decide(['Cache-Control', `max-age=10, stale-while-revalidate=20, stale-if-error=300, ${cc}`, 'ETag', '"x"']));
      assert.equal(plan.swrUntilMs, plan.staleAtMs, cc);
      assert.equal(plan.sieUntilMs, plan.staleAtMs, cc);
    }
  });

  it('an explicit stale-while-revalidate works with s-maxage (whose implied proxy-revalidate it overrides)', () => {
    const plan = stored(decide(['Cache-Control', 's-maxage=1, stale-while-revalidate=59']));
    assert.equal(plan.swrUntilMs, now + 60_000);
  });
});

describe('targeted fields (RFC 9213)', () => {
  it('a valid CDN-Cache-Control replaces Cache-Control and Expires', () => {
    assert.equal(stored(decide(['Cache-Control', 'no-store', 'CDN-Cache-Control', 'max-age=10000'])).staleAtMs, now + 10_000_000);
    assert.equal(reason(decide(['Cache-Control', 'max-age=10000', 'CDN-Cache-Control', 'no-store'])), 'no-store');
    assert.equal(reason(decide(['Cache-Control', 'max-age=10000', 'CDN-Cache-Control', 'private'])), 'private');
    assert.equal(stored(decide(['Cache-Control', 'max-age=3600', 'CDN-Cache-Control', 'max-age=1'])).staleAtMs, now + 1000);
    assert.equal(stored(decide(['CDN-Cache-Control', 'max-age=3600', 'Expires', '0'])).staleAtMs, now + 3_600_000);
  });

  it('an invalid CDN-Cache-Control is ignored: Cache-Control decides', () => {
    assert.equal(reason(decide(['Cache-Control', 'no-store', 'CDN-Cache-Control', 'max-age=10000, &&&&&'])), 'no-store');
  });

  it('Surrogate-Control is used the same way when there is no CDN-Cache-Control', () => {
    assert.equal(stored(decide(['Cache-Control', 'max-age=3600', 'Surrogate-Control', 'max-age=1'])).staleAtMs, now + 1000);
    assert.equal(reason(decide(['Cache-Control', 'max-age=3600', 'Surrogate-Control', 'no-store'])), 'no-store');
    assert.equal(stored(decide(['Cache-Control', 'max-age=1', 'Surrogate-Control', 'max-age =100'])).staleAtMs, now + 1000);
  });
});

describe('validators and tags', () => {
  it('keeps the ETag and the Last-Modified time', () => {
    const plan = stored(decide(['Cache-Control', 'max-age=1', 'ETag', 'W/"v1"', 'Last-Modified', formatHttpDate(now - 5000)]));
    assert.equal(plan.etag, 'W/"v1"');
    assert.equal(plan.lastModifiedMs, now - 5000);
  });

  it('reads tags from Cache-Tag (commas) and Surrogate-Key (spaces)', () => {
    assert.deepEqual(responseTags(['Cache-Tag', 'post-42, posts', 'Surrogate-Key', 'user-7 post-42  home']), ['post-42', 'posts', 'user-7', 'home']);
  });
});
