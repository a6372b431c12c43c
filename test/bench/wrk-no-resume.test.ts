/**
 * Why https-new-conn preloads a library into wrk, and that it works: the real wrk
 * against a real Node.js TLS server that resumes any session it is offered (on
 * 127.0.0.1, one second each). Skipped with a reason without wrk, a C compiler or
 * openssl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeBenchCertificate, type BenchTlsFiles } from '../../bench/lib/bench-tls.js';
import { findExecutable } from '../../bench/lib/tools.js';
import { buildNoResumeLibrary, checkFullHandshakes, countWrkResumptions, noResumeEnv, type ResumptionRun } from '../../bench/lib/wrk-no-resume.js';

const wrk = findExecutable('wrk');
const cc = findExecutable('cc');
const openssl = findExecutable('openssl');
const missing = [['wrk', wrk], ['cc', cc], ['openssl', openssl]].filter(([, found]) => !found).map(([name]) => name);
const skip = missing.length > 0 ? `${missing.join(', ')} not installed` : false;

let shared: { dir: string; tls: BenchTlsFiles } | undefined;
function setup(): { dir: string; tls: BenchTlsFiles } {
  if (!shared) {
    const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-noresume-'));
    shared = { dir, tls: writeBenchCertificate(openssl!, path.join(dir, 'tls')) };
  }
  return shared;
}

function run(tls: BenchTlsFiles, env: NodeJS.ProcessEnv | undefined): ResumptionRun {
  return { wrkPath: wrk!, tls, env, durationSec: 1, connections: 4, cpus: undefined, tasksetPath: undefined };
}

test('wrk by itself resumes the TLS session when it reconnects after "Connection: close"', { skip }, async () => {
  const { tls } = setup();
  const count = await countWrkResumptions(run(tls, undefined));
  // wrk offers the session it holds on every reconnection; it is resumable when the server's
  // ticket from the previous connection arrived before wrk closed it. nginx and warpdrive send
  // it early enough every time (all but the first handshake per connection slot resumed,
  // docs/bench.md); this Node.js server about every other time.
  assert.ok(count.handshakes >= 20, `only ${count.handshakes} handshakes`);
  assert.ok(count.resumed > 0, `${count.resumed} of ${count.handshakes} resumed`);
});

test('with wrk-no-resume.so preloaded, every connection is a full handshake', { skip }, async () => {
  const { dir, tls } = setup();
  const library = buildNoResumeLibrary(cc!, dir);
  const count = await checkFullHandshakes(run(tls, noResumeEnv(library)));
  assert.equal(count.resumed, 0);
  assert.ok(count.handshakes >= 20, `only ${count.handshakes} handshakes`);
});

test('the check fails, saying why, when wrk still resumes', { skip }, async () => {
  const { tls } = setup();
  // wrk without the library stands in for a wrk the library cannot change (OpenSSL linked in statically).
  await assert.rejects(checkFullHandshakes(run(tls, undefined)), /wrk resumed \d+ of \d+ TLS sessions although bench\/native\/wrk-no-resume\.c was preloaded.*statically/);
});

test('the library goes in front of an LD_PRELOAD already set', () => {
  assert.equal(noResumeEnv('/tmp/a.so', { PATH: '/bin' }).LD_PRELOAD, '/tmp/a.so');
  assert.equal(noResumeEnv('/tmp/a.so', { LD_PRELOAD: '/opt/b.so' }).LD_PRELOAD, '/tmp/a.so:/opt/b.so');
  assert.equal(noResumeEnv('/tmp/a.so', { PATH: '/bin' }).PATH, '/bin');
});

test('a compiler that fails is an error naming the source', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wd-bench-noresume-'));
  assert.throws(() => buildNoResumeLibrary('/bin/false', dir), /\/bin\/false could not build bench\/native\/wrk-no-resume\.c \(exit 1\)/);
});
