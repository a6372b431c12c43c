import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryDelayMs, withJitter, RETRY_BASE_MS, RETRY_MAX_MS } from '../../src/tls/certificate-manager.js';
import { challengeToken } from '../../src/tls/challenge-board.js';
import type { InstalledCertificate } from '../../src/tls/live-files.js';
import { ChallengeMirror, ThreadTls } from '../../src/tls/thread-tls.js';

const installed = (names: string[]): InstalledCertificate => ({ names, certFile: '/x.crt', keyFile: '/x.key', fingerprint: 'f', notAfter: new Date(), source: 'test' });
const none = { answer: () => undefined, lookup: () => Promise.resolve(undefined) };

describe('thread TLS state', () => {
  it('covers exact names and one-label wildcards; knows which ACME names still wait', () => {
    const tls = new ThreadTls(8443, ['shop.test', 'new.test'], none, [installed(['shop.test']), installed(['*.wild.test'])]);
    assert.equal(tls.portSuffix, ':8443');
    assert.equal(tls.covers('shop.test'), true);
    assert.equal(tls.covers('a.wild.test'), true);
    assert.equal(tls.covers('wild.test'), false);
    assert.equal(tls.awaitsFirstCertificate('new.test'), true);
    assert.equal(tls.awaitsFirstCertificate('shop.test'), false);
    assert.equal(tls.awaitsFirstCertificate('other.test'), false, 'not an ACME domain: served over HTTP, no 503');
    tls.update([installed(['shop.test']), installed(['new.test'])]);
    assert.equal(tls.awaitsFirstCertificate('new.test'), false);
    assert.equal(tls.covers('a.wild.test'), false);
    assert.equal(new ThreadTls(443, [], none, []).portSuffix, '');
  });

  it('a worker mirror answers from memory and asks the main thread once for a miss', async () => {
    const asked: string[] = [];
    const mirror = new ChallengeMirror([{ token: 'known', keyAuthorization: 'known.key' }], (token) => asked.push(token));
    assert.equal(mirror.answer('known'), 'known.key');
    const first = mirror.lookup('other');
    const second = mirror.lookup('other');
    assert.deepEqual(asked, ['other']);
    mirror.apply({ token: 'other', keyAuthorization: 'other.key' });
    assert.deepEqual(await Promise.all([first, second]), ['other.key', 'other.key']);
    mirror.apply({ token: 'known', keyAuthorization: undefined });
    assert.equal(mirror.answer('known'), undefined);
  });

  it('challenge paths: base64url tokens only', () => {
    assert.equal(challengeToken('/.well-known/acme-challenge/abc_DEF-123'), 'abc_DEF-123');
    assert.equal(challengeToken('/.well-known/acme-challenge/'), undefined);
    assert.equal(challengeToken('/.well-known/acme-challenge/../etc'), undefined);
    assert.equal(challengeToken('/other'), undefined);
  });

  it('retries back off from a minute to six hours, with ±20 % jitter', () => {
    assert.equal(retryDelayMs(1), RETRY_BASE_MS);
    assert.equal(retryDelayMs(2), 2 * RETRY_BASE_MS);
    assert.equal(retryDelayMs(4), 8 * RETRY_BASE_MS);
    assert.equal(retryDelayMs(30), RETRY_MAX_MS);
    assert.equal(withJitter(100_000, () => 0), 80_000);
    assert.equal(withJitter(100_000, () => 1), 120_000);
  });
});
