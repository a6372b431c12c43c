/**
 * Checks that a proxy really proxies before it is measured: one request through
 * it must come back from the upstream with the expected body. A proxy that
 * answers wrongly would otherwise post impressive figures for error pages.
 *
 * @module
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import zlib from 'node:zlib';

export const UPSTREAM_SMALL_BODY = 'hello from the bench upstream\n';

/**
 * How the probes reach a proxy in an HTTPS scenario: the name they send (SNI),
 * and the one certificate they trust, the bench's own. A proxy serving anything
 * else fails the probe.
 */
export interface ProbeTls {
  readonly serverName: string;
  /** PEM. */
  readonly ca: string;
}

/** Request options for 127.0.0.1:port, with TLS verified against the bench certificate when `tls` is given. */
function requestOptions(port: number, tls: ProbeTls | undefined): https.RequestOptions {
  const base = { host: '127.0.0.1', port, agent: false as const };
  return tls ? { ...base, servername: tls.serverName, ca: tls.ca, rejectUnauthorized: true } : base;
}

export function probeHttp(port: number, path: string, host: string | undefined, timeoutMs = 5_000, tls?: ProbeTls): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = (tls ? https : http).request(
      { ...requestOptions(port, tls), path, method: 'GET', headers: host ? { host } : {}, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${path}${host ? ` (Host: ${host})` : ''} answered ${res.statusCode}, expected 200: ${body.slice(0, 200)}`));
          else if (body !== UPSTREAM_SMALL_BODY) reject(new Error(`GET ${path} answered 200 but not with the upstream's body: ${JSON.stringify(body.slice(0, 200))}`));
          else resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Probes until it succeeds (a proxy may accept before its upstream pool is ready), bounded by time. */
export async function probeUntilReady(port: number, path: string, host: string | undefined, timeoutMs: number, tls?: ProbeTls): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await probeHttp(port, path, host, Math.min(2_000, timeoutMs), tls);
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/**
 * For the file scenarios: one request as the load generator will send it must come
 * back 200 with the expected Content-Encoding and, decoded, the expected bytes, so
 * that a proxy answering with an error page or an uncompressed body is caught
 * before it is measured. `expected` undefined: nothing to check beyond the probe.
 */
export function verifyResponse(
  port: number,
  target: string,
  headers: readonly string[],
  expected: { readonly body: Buffer; readonly encoding: 'gzip' | undefined } | undefined,
  timeoutMs = 5_000,
): Promise<void> {
  if (expected === undefined) return Promise.resolve();
  const requestHeaders: Record<string, string> = {};
  for (const line of headers) {
    const colon = line.indexOf(':');
    requestHeaders[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: 'GET', agent: false, headers: requestHeaders, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const encoding = res.headers['content-encoding'];
        if (res.statusCode !== 200) return reject(new Error(`GET ${target} answered ${res.statusCode}, expected 200: ${raw.toString().slice(0, 200)}`));
        if (encoding !== expected.encoding) return reject(new Error(`GET ${target} answered with Content-Encoding ${encoding ?? '(none)'}, expected ${expected.encoding ?? '(none)'}`));
        let body: Buffer;
        try {
          body = encoding === 'gzip' ? zlib.gunzipSync(raw) : raw;
        } catch (error) {
          return reject(new Error(`GET ${target}: the body does not decode as ${encoding}: ${(error as Error).message}`));
        }
        if (!body.equals(expected.body)) return reject(new Error(`GET ${target} answered 200 with ${body.length} bytes that are not the expected ${expected.body.length}`));
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${target} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** What one TLS connection to a proxy negotiated (Node's OpenSSL client, with the same defaults as wrk's). */
export interface NegotiatedTls {
  /** `TLSv1.3`. */
  readonly protocol: string;
  /** IANA name, `TLS_AES_256_GCM_SHA384`. */
  readonly cipher: string;
  /** Key-exchange group, `X25519`. */
  readonly group: string;
  /** Session tickets the proxy sent on that connection (issuing them is part of each full handshake's cost). */
  readonly tickets: number;
}

/**
 * One HTTPS GET through the proxy, the bench certificate the only one trusted: the
 * upstream's body must come back, and what the handshake negotiated is returned,
 * with the tickets counted until the proxy closes the connection.
 */
export function negotiatedTls(port: number, path: string, tls: ProbeTls, timeoutMs = 5_000): Promise<NegotiatedTls> {
  return new Promise((resolve, reject) => {
    let tickets = 0;
    let handshake: Omit<NegotiatedTls, 'tickets'> | undefined;
    let body = '';
    let status: number | undefined;
    const req = https.request({ ...requestOptions(port, tls), path, method: 'GET', timeout: timeoutMs }, (res) => {
      status = res.statusCode;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
    });
    req.on('socket', (raw) => {
      const socket = raw as TLSSocket;
      // TLS 1.3 tickets arrive after the handshake (BoringSSL's with the first response bytes).
      socket.on('session', () => tickets++);
      socket.once('secureConnect', () => {
        const key = socket.getEphemeralKeyInfo();
        handshake = {
          protocol: socket.getProtocol() ?? 'unknown',
          cipher: socket.getCipher().standardName,
          group: key && 'name' in key && typeof key.name === 'string' ? key.name : 'unknown',
        };
      });
      // agent: false sends "Connection: close": the proxy closes once it has answered, tickets all in.
      socket.once('close', () => {
        if (!handshake) return reject(new Error(`no TLS handshake with 127.0.0.1:${port}`));
        if (status !== 200) return reject(new Error(`GET ${path} over HTTPS answered ${String(status)}, expected 200: ${body.slice(0, 200)}`));
        if (body !== UPSTREAM_SMALL_BODY) return reject(new Error(`GET ${path} over HTTPS answered 200 but not with the upstream's body: ${JSON.stringify(body.slice(0, 200))}`));
        resolve({ ...handshake, tickets });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path} over HTTPS within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function getText(port: number, path: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path} answered ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Whether the proxies' checks negotiated different protocols, ciphers or groups,
 * which would make their HTTPS figures incomparable: a sentence naming each
 * proxy's, or undefined when they all agree. (Ticket counts are reported, not compared.)
 */
export function differentTls(negotiated: ReadonlyArray<{ readonly proxy: string } & NegotiatedTls>): string | undefined {
  const shape = (n: NegotiatedTls): string => `${n.protocol} ${n.cipher} ${n.group}`;
  if (new Set(negotiated.map(shape)).size <= 1) return undefined;
  return `the proxies negotiated different TLS parameters, so their figures do not compare (${negotiated.map((n) => `${n.proxy}: ${shape(n)}`).join('; ')}); see bench/lib/bench-tls.ts`;
}

/**
 * For the cache-hit scenario: a proxy must answer repeated requests from its
 * cache, or its figures would be a proxied request's. Two requests for a fresh
 * URL through the proxy may reach the upstream once, never twice (the upstream
 * counts its /cache/* requests).
 */
export async function probeCaching(proxyPort: number, upstreamPort: number): Promise<void> {
  const path = `/cache/probe-${proxyPort}-${Date.now()}`;
  const before = Number(await getText(upstreamPort, '/cache-count'));
  await getText(proxyPort, path);
  await getText(proxyPort, path);
  const after = Number(await getText(upstreamPort, '/cache-count'));
  if (after - before > 1) throw new Error(`two requests for ${path} both reached the upstream: the proxy does not answer from its cache`);
}
