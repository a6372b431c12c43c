/**
 * The HTTPS scenarios' certificate, made with the real `openssl` (skipped with a
 * reason when it is not installed) and judged by Node's own X.509 parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BENCH_TLS_SERVER_NAME, writeBenchCertificate } from '../../bench/lib/bench-tls.js';
import { findExecutable } from '../../bench/lib/tools.js';

const openssl = findExecutable('openssl');
const noOpenssl = openssl ? false : 'openssl is not installed (apt-get install openssl)';

test('the bench certificate is ECDSA P-256 for localhost, its key matches, and the key files are private', { skip: noOpenssl }, () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'wd-bench-tls-')), 'tls');
  const files = writeBenchCertificate(openssl!, dir);
  assert.equal(files.serverName, 'localhost');
  assert.equal(BENCH_TLS_SERVER_NAME, 'localhost');
  for (const file of [files.certFile, files.keyFile, files.bundleFile]) assert.equal(path.dirname(file), dir, 'everything stays in the run directory');

  const certificate = new X509Certificate(readFileSync(files.certFile));
  assert.equal(certificate.subjectAltName, 'DNS:localhost');
  assert.equal(certificate.publicKey.asymmetricKeyType, 'ec');
  assert.equal(certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(certificate.checkPrivateKey(createPrivateKey(readFileSync(files.keyFile))));
  assert.ok(Date.parse(certificate.validTo) > Date.now() + 24 * 3600_000, 'valid for the whole run');

  assert.equal(statSync(files.keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(files.bundleFile).mode & 0o777, 0o600);
  // HAProxy's crt: the certificate, then its key, in one file.
  assert.equal(readFileSync(files.bundleFile, 'utf8'), readFileSync(files.certFile, 'utf8') + readFileSync(files.keyFile, 'utf8'));
});

test('each run gets a new key', { skip: noOpenssl }, () => {
  const a = writeBenchCertificate(openssl!, mkdtempSync(path.join(tmpdir(), 'wd-bench-tls-')));
  const b = writeBenchCertificate(openssl!, mkdtempSync(path.join(tmpdir(), 'wd-bench-tls-')));
  assert.notEqual(readFileSync(a.keyFile, 'utf8'), readFileSync(b.keyFile, 'utf8'));
});

test('an openssl that fails is an error with its own message', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-tls-'));
  assert.throws(() => writeBenchCertificate('/bin/false', dir), /openssl could not make the bench certificate \(exit 1\)/);
  assert.throws(() => writeBenchCertificate(path.join(dir, 'no-openssl'), dir), /openssl could not make the bench certificate \(exit null\): .*ENOENT/);
});
