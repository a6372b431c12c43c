/**
 * The HTTPS scenarios' certificate and the TLS settings every proxy gets.
 *
 * The certificate is made at run time with `openssl` into the run's temporary
 * directory (never committed): ECDSA P-256, self-signed, for the name `localhost`.
 * `localhost` because wrk sends the URL's host as SNI and warpdrive refuses a
 * handshake for a name it has no certificate for (docs/https.md); an IP address
 * is not a name a certificate is chosen by. `localhost` resolves to 127.0.0.1,
 * and wrk drops any address of it that refuses connections (::1 here).
 *
 * The settings mirror what warpdrive's uWS build does by itself and cannot change
 * (native-notes/tls.md), so that nginx and HAProxy do the same work per handshake
 * and per record; docs/bench.md has the table.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TLS12_CIPHERS } from '../../src/ingress/tls-server.js';

/** The name wrk connects to (and sends as SNI), and the certificate's only name. */
export const BENCH_TLS_SERVER_NAME = 'localhost';

/** The bench certificate's files, in the run's temporary directory. */
export interface BenchTlsFiles {
  /** Self-signed certificate (PEM). */
  readonly certFile: string;
  /** Its private key (PEM, PKCS#8), mode 0600. */
  readonly keyFile: string;
  /** Certificate then key in one file, as HAProxy's `crt` reads them; mode 0600. */
  readonly bundleFile: string;
  readonly serverName: string;
}

/**
 * TLS 1.2 ciphers: warpdrive's own list (src/ingress/tls-server.ts), given to nginx
 * and HAProxy verbatim. Only the ECDSA ones can be chosen with this certificate.
 */
export const BENCH_TLS12_CIPHERS = TLS12_CIPHERS;
/** TLS 1.3 suites: the three BoringSSL always offers and uWS cannot change (OpenSSL's defaults too). */
export const BENCH_TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
/** Key-exchange groups: BoringSSL's default list, in its order (OpenSSL's adds X448 and P-521). */
export const BENCH_TLS_GROUPS = ['X25519', 'P-256', 'P-384'] as const;
/** In-process session cache size: BoringSSL's default (SSL_SESSION_CACHE_MAX_SIZE_DEFAULT), also OpenSSL's. */
export const BENCH_TLS_SESSION_CACHE_ENTRIES = 20_480;
/** Session lifetime: BoringSSL's default for TLS 1.2 sessions (it gives TLS 1.3 tickets 2 days). */
export const BENCH_TLS_SESSION_LIFETIME_SECS = 7_200;

/** A certificate valid this long is enough for any run, and never mistaken for a real one. */
const VALIDITY_DAYS = 2;

/**
 * Makes the bench certificate under `dir` with `openssl` (1.1.1 or later, for
 * `-addext`). Throws with openssl's own message when it fails.
 */
export function writeBenchCertificate(opensslPath: string, dir: string): BenchTlsFiles {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const certFile = path.join(dir, 'bench-cert.pem');
  const keyFile = path.join(dir, 'bench-key.pem');
  const bundleFile = path.join(dir, 'bench-bundle.pem');
  const args = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-sha256', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', String(VALIDITY_DAYS),
    '-subj', `/CN=${BENCH_TLS_SERVER_NAME}`, '-addext', `subjectAltName=DNS:${BENCH_TLS_SERVER_NAME}`,
  ];
  const result = spawnSync(opensslPath, args, { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    throw new Error(`bench: openssl could not make the bench certificate (exit ${String(result.status)}): ${(result.stderr || result.error?.message || '').trim()}`);
  }
  chmodSync(keyFile, 0o600);
  writeFileSync(bundleFile, readFileSync(certFile, 'utf8') + readFileSync(keyFile, 'utf8'), { mode: 0o600 });
  return { certFile, keyFile, bundleFile, serverName: BENCH_TLS_SERVER_NAME };
}
