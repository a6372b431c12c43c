/**
 * Certificates from files, judged by `check` and at every start: a bad pair is
 * refused with the key path, the file and the fix; a good one is served for
 * exactly the names it covers.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { readFileCertificates } from '../../src/tls/certificate-files.js';
import { catchConfigError, validBase } from '../config/fixtures.js';
import { issueCertificate, makeTestCa } from '../helpers/certificates.js';
import { tempDir } from '../helpers/upstream.js';

const ca = makeTestCa();
const day = 86400_000;
const good = issueCertificate(ca, ['a.test', 'www.a.test']);
const other = issueCertificate(ca, ['b.test']);
const wildcard = issueCertificate(ca, ['*.wild.test']);
const expired = issueCertificate(ca, ['old.test'], { notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - 2 * day) });

const tlsConfig = (body: string): string => `${validBase}[server]\nhttps_port = 8443\n[tls]\nenabled = true\n${body}\n`;
const entry = (domains: string[], cert: string, key: string): string =>
  `[[tls.certificates]]\ndomains = ${JSON.stringify(domains)}\ncert_file = "${cert}"\nkey_file = "${key}"\n`;

function issueAt(toml: string, keyPath: string): string {
  const error = catchConfigError(() => parseConfig(toml, 'tls.toml'));
  const issue = error.issues.find((candidate) => candidate.path === keyPath);
  assert.ok(issue, `no issue at ${keyPath}; got:\n${error.message}`);
  return issue.message;
}

describe('certificates from files', () => {
  it('accepts good pairs, wildcards included, and serves the names they cover', () => {
    const plan = parseConfig(tlsConfig(entry(['a.test', 'www.a.test'], good.certFile, good.keyFile) + entry(['x.wild.test', '*.wild.test'], wildcard.certFile, wildcard.keyFile)), 'tls.toml');
    const { certificates, issues } = readFileCertificates(plan.tls!.fileCertificates, new Date());
    assert.deepEqual(issues, []);
    assert.deepEqual(certificates.map((c) => c.names), [['a.test', 'www.a.test'], ['x.wild.test', '*.wild.test']]);
    assert.match(certificates[0]!.source, /^file \//);
  });

  it('[tls] cert_file without domains serves the names the certificate carries', () => {
    const plan = parseConfig(tlsConfig(`cert_file = "${good.certFile}"\nkey_file = "${good.keyFile}"`), 'tls.toml');
    const { certificates } = readFileCertificates(plan.tls!.fileCertificates, new Date());
    assert.deepEqual(certificates[0]!.names, ['a.test', 'www.a.test']);
  });

  it('refuses an expired certificate, naming the date', () => {
    const message = issueAt(tlsConfig(entry(['old.test'], expired.certFile, expired.keyFile)), 'tls.certificates[0].cert_file');
    assert.match(message, /expired on \d{4}-\d\d-\d\d/);
    assert.match(message, /fix: renew it/);
    assert.ok(message.includes(expired.certFile));
  });

  it('refuses a key that belongs to another certificate, on key_file', () => {
    const message = issueAt(tlsConfig(entry(['a.test'], good.certFile, other.keyFile)), 'tls.certificates[0].key_file');
    assert.match(message, /does not belong to this certificate \(a\.test, www\.a\.test\)/);
  });

  it('refuses a domain the certificate does not cover, naming what it covers', () => {
    const message = issueAt(tlsConfig(entry(['a.test', 'api.a.test'], good.certFile, good.keyFile)), 'tls.certificates[0].domains[1]');
    assert.match(message, /"api\.a\.test" is not covered by .* which is for a\.test, www\.a\.test/);
  });

  it('a wildcard does not cover its bare domain', () => {
    const message = issueAt(tlsConfig(entry(['wild.test'], wildcard.certFile, wildcard.keyFile)), 'tls.certificates[0].domains[0]');
    assert.match(message, /not covered/);
  });

  it('reports missing and unreadable files with the absolute path', () => {
    const dir = tempDir('wd-tls-files-');
    const missing = issueAt(tlsConfig(entry(['a.test'], 'nope/cert.pem', good.keyFile)), 'tls.certificates[0].cert_file');
    assert.match(missing, /certificate file not found: \/.*nope\/cert\.pem/);
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate');
    assert.match(issueAt(tlsConfig(entry(['a.test'], garbage, good.keyFile)), 'tls.certificates[0].cert_file'), /no "BEGIN CERTIFICATE" block/);
    if (process.getuid?.() !== 0) {
      const locked = path.join(dir, 'locked.key');
      writeFileSync(locked, good.keyPem);
      chmodSync(locked, 0o000);
      assert.match(issueAt(tlsConfig(entry(['a.test'], good.certFile, locked)), 'tls.certificates[0].key_file'), /not readable/);
    }
  });

  it('reports every bad certificate at once', () => {
    const error = catchConfigError(() =>
      parseConfig(tlsConfig(entry(['old.test'], expired.certFile, expired.keyFile) + entry(['b.test'], other.certFile, good.keyFile)), 'tls.toml'),
    );
    assert.deepEqual(error.issues.map((i) => i.path), ['tls.certificates[0].cert_file', 'tls.certificates[1].key_file']);
  });

  it('does not read the files of a switched-off [tls]', () => {
    const plan = parseConfig(`${validBase}[tls]\nenabled = false\n${entry(['a.test'], 'nope.pem', 'nope.key')}`, 'tls.toml');
    assert.equal(plan.tls?.enabled, false);
  });
});
