/**
 * HTTPS and TLS clients for the tests: a GET to 127.0.0.1 with any SNI name and
 * trusted CA (what a browser does after DNS), the certificate it was shown, and
 * `openssl s_client` as an independent TLS implementation.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly certificate: PeerCertificate;
}

/** GET https://NAME:PORT/PATH against 127.0.0.1, trusting `ca`; `agent` keeps the connection alive. */
export function httpsGet(port: number, name: string, path: string, ca: string, agent: https.Agent | false = false): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, servername: name, headers: { host: name }, ca, agent }, (res) => {
      // Read now: a keep-alive agent takes the socket back before 'end'.
      const certificate = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, certificate }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET http://127.0.0.1:PORT/PATH with `Host: NAME` (fetch cannot set Host). */
export function httpGet(port: number, name: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: name }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface SClientResult {
  /** The leaf's subject line (`subject=CN = a.test`), or undefined when no certificate came. */
  readonly subject: string | undefined;
  readonly verified: boolean;
  readonly protocol: string | undefined;
  readonly alert: string | undefined;
  readonly output: string;
}

/** `openssl s_client -connect 127.0.0.1:PORT -servername NAME -CAfile CA [extra]`, nothing sent. */
export function sClient(port: number, name: string, caFile: string, extra: string[] = []): Promise<SClientResult> {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', name, '-CAfile', caFile, ...extra], { timeout: 10_000 }, (_error, stdout, stderr) => {
      const output = `${stdout}\n${stderr}`;
      resolve({
        subject: /^subject=(.*)$/m.exec(output)?.[1]?.trim(),
        verified: /Verify return code: 0 \(ok\)/.test(output) && /^subject=/m.test(output),
        protocol: /Protocol\s*:\s*(\S+)/.exec(output)?.[1] ?? /New, (TLSv[\d.]+)/.exec(output)?.[1],
        alert: /alert ([a-z ]+)/.exec(output)?.[1],
        output,
      });
    });
    child.stdin?.end();
  });
}
