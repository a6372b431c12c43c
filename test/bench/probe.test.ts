/**
 * The checks an HTTPS scenario runs on each proxy before measuring, against real
 * Node.js HTTPS servers on 127.0.0.1 with certificates made by openssl (skipped
 * without it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeBenchCertificate, type BenchTlsFiles } from '../../bench/lib/bench-tls.js';
import { differentTls, negotiatedTls, probeHttp, UPSTREAM_SMALL_BODY, type ProbeTls } from '../../bench/lib/probe.js';
import { findExecutable } from '../../bench/lib/tools.js';

const openssl = findExecutable('openssl');
const skip = openssl ? false : 'openssl is not installed (apt-get install openssl)';

function certificate(): BenchTlsFiles {
  return writeBenchCertificate(openssl!, mkdtempSync(path.join(tmpdir(), 'wd-bench-probe-')));
}

/** An HTTPS server with `files`' certificate answering every request with `body`. */
async function server(files: BenchTlsFiles, body: string, options: https.ServerOptions = {}): Promise<{ port: number; close: () => Promise<void> }> {
  const s = https.createServer({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), ...options }, (_req, res) => res.end(body));
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { port: (s.address() as AddressInfo).port, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

function trusting(files: BenchTlsFiles): ProbeTls {
  return { serverName: files.serverName, ca: readFileSync(files.certFile, 'utf8') };
}

test('the HTTPS check returns what the handshake negotiated and counts the session tickets', { skip }, async () => {
  const files = certificate();
  const s = await server(files, UPSTREAM_SMALL_BODY);
  try {
    await probeHttp(s.port, '/', undefined, 5_000, trusting(files));
    const tls = await negotiatedTls(s.port, '/', trusting(files));
    assert.equal(tls.protocol, 'TLSv1.3');
    assert.match(tls.cipher, /^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
    assert.equal(tls.group, 'X25519');
    assert.ok(tls.tickets > 0, 'Node.js sends TLS 1.3 session tickets by default');
  } finally {
    await s.close();
  }
});

test('a TLS 1.2-only server is seen as such (what makes the run fail as not comparable)', { skip }, async () => {
  const files = certificate();
  const s = await server(files, UPSTREAM_SMALL_BODY, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  try {
    const tls = await negotiatedTls(s.port, '/', trusting(files));
    assert.equal(tls.protocol, 'TLSv1.2');
    assert.equal(tls.cipher, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    const usual = { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', group: 'X25519', tickets: 2 };
    assert.equal(differentTls([{ proxy: 'warpdrive', ...usual }, { proxy: 'nginx', ...usual, tickets: 1 }]), undefined, 'tickets are reported, not compared');
    assert.equal(
      differentTls([{ proxy: 'warpdrive', ...usual }, { proxy: 'nginx', ...tls }]),
      `the proxies negotiated different TLS parameters, so their figures do not compare (warpdrive: TLSv1.3 TLS_AES_256_GCM_SHA384 X25519; nginx: TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ${tls.group}); see bench/lib/bench-tls.ts`,
    );
  } finally {
    await s.close();
  }
});

test('a proxy serving any other certificate fails the check', { skip }, async () => {
  const bench = certificate();
  const other = certificate();
  const s = await server(other, UPSTREAM_SMALL_BODY);
  try {
    await assert.rejects(probeHttp(s.port, '/', undefined, 5_000, trusting(bench)), /self-signed certificate/);
    await assert.rejects(negotiatedTls(s.port, '/', trusting(bench)), /self-signed certificate/);
  } finally {
    await s.close();
  }
});

test("an answer that is not the upstream's fails the check", { skip }, async () => {
  const files = certificate();
  const s = await server(files, 'an error page\n');
  try {
    await assert.rejects(negotiatedTls(s.port, '/', trusting(files)), /answered 200 but not with the upstream's body: "an error page\\n"/);
  } finally {
    await s.close();
  }
});
