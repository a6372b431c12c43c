/**
 * Checks that a proxy really proxies before it is measured: one request through
 * it must come back from the upstream with the expected body. A proxy that
 * answers wrongly would otherwise post impressive figures for error pages.
 *
 * @module
 */
import http from 'node:http';
import zlib from 'node:zlib';

export const UPSTREAM_SMALL_BODY = 'hello from the bench upstream\n';

export function probeHttp(port: number, path: string, host: string | undefined, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: host ? { host } : {}, timeout: timeoutMs },
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
export async function probeUntilReady(port: number, path: string, host: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await probeHttp(port, path, host, Math.min(2_000, timeoutMs));
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
