import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coversDomain, judgePair, nameCovers, readCertificateInfo, renewalDueAt, splitPemChain } from '../../src/tls/certificate-info.js';
import { issueCertificate, makeTestCa } from '../helpers/certificates.js';

const ca = makeTestCa();
const day = 86400_000;

describe('certificate inspection', () => {
  it('reads names, validity, issuer and chain length of a leaf-first chain', () => {
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - day);
    const notAfter = new Date(notBefore.getTime() + 90 * day);
    const cert = issueCertificate(ca, ['example.com', 'www.example.com'], { notBefore, notAfter });
    const info = readCertificateInfo(cert.certPem);
    assert.deepEqual(info.names, ['example.com', 'www.example.com']);
    assert.equal(info.notBefore.getTime(), notBefore.getTime());
    assert.equal(info.notAfter.getTime(), notAfter.getTime());
    assert.match(info.issuer, /CN=warpdrive test CA/);
    assert.equal(info.chainLength, 2);
    assert.match(info.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(splitPemChain(cert.certPem).length, 2);
  });

  it('renewal is due when a third of the lifetime remains', () => {
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2026-04-01T00:00:00Z'); // 90 days
    assert.equal(renewalDueAt({ notBefore, notAfter }).toISOString(), '2026-03-02T00:00:00.000Z');
  });

  it('a wildcard covers exactly one label, and names compare exactly', () => {
    assert.equal(nameCovers('*.example.com', 'a.example.com'), true);
    assert.equal(nameCovers('*.example.com', 'example.com'), false);
    assert.equal(nameCovers('*.example.com', 'a.b.example.com'), false);
    assert.equal(nameCovers('*.example.com', '.example.com'), false);
    assert.equal(nameCovers('example.com', 'example.com'), true);
    assert.equal(nameCovers('example.com', 'www.example.com'), false);
    const wildcard = readCertificateInfo(issueCertificate(ca, ['*.wild.test']).certPem);
    assert.equal(coversDomain(wildcard, 'x.wild.test'), true);
    assert.equal(coversDomain(wildcard, 'wild.test'), false);
  });

  it('judges a good pair ok, and names each kind of bad pair', () => {
    const now = new Date();
    const good = issueCertificate(ca, ['a.test']);
    const other = issueCertificate(ca, ['b.test']);
    assert.equal(judgePair(good, now).ok, true);

    const mismatch = judgePair({ certPem: good.certPem, keyPem: other.keyPem }, now);
    assert.equal(mismatch.ok, false);
    assert.equal(!mismatch.ok && mismatch.problem.kind, 'key-mismatch');
    assert.match(!mismatch.ok ? mismatch.problem.message : '', /does not belong to this certificate \(a\.test\)/);

    const expired = issueCertificate(ca, ['old.test'], { notBefore: new Date(Date.now() - 20 * day), notAfter: new Date(Date.now() - day) });
    const verdict = judgePair(expired, now);
    assert.equal(!verdict.ok && verdict.problem.kind, 'expired');
    assert.match(!verdict.ok ? verdict.problem.message : '', /expired on \d{4}-/);

    const future = issueCertificate(ca, ['soon.test'], { notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 20 * day) });
    assert.equal((judgePair(future, now) as { problem: { kind: string } }).problem.kind, 'not-yet-valid');

    assert.equal((judgePair({ certPem: 'hello', keyPem: good.keyPem }, now) as { problem: { kind: string } }).problem.kind, 'unreadable-certificate');
    assert.equal((judgePair({ certPem: good.certPem, keyPem: 'nope' }, now) as { problem: { kind: string } }).problem.kind, 'unreadable-key');
  });
});
