/**
 * Checks that a proxy really proxies before it is measured: one request through
 * it must come back from the upstream with the expected body. A proxy that
 * answers wrongly would otherwise post impressive figures for error pages.
 *
 * @module
 */
import http from 'node:http';

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
