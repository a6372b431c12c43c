/**
 * A real ACME CA for tests, with no internet: Debian's `pebble` (Let's Encrypt's
 * test CA) and `pebble-challtestsrv` as its DNS server, which answers every name
 * with 127.0.0.1, so pebble validates HTTP-01 against this machine on the port we
 * choose (`httpPort`, warpdrive's http_port in the test).
 *
 * Pebble cannot report a port the kernel chose, so its ports are picked here:
 * random ports below the kernel's ephemeral range (32768+), checked free for TCP
 * and UDP, which neither port-0 listeners nor outgoing connections ever take.
 *
 * Orders are counted from pebble's log ("Added order"): what a rate limit counts.
 *
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createServer } from 'node:net';
import path from 'node:path';
import { tempDir } from './upstream.js';

export interface PebbleOptions {
  /** Where pebble sends HTTP-01 validation requests (default: a free port of our choosing). */
  readonly httpPort?: number;
  /** Lifetime of issued certificates in seconds (pebble's default: about five years). */
  readonly certificateValiditySecs?: number;
  /** Require External Account Binding with this key id and base64url MAC key. */
  readonly eab?: { readonly kid: string; readonly hmacKey: string };
}

export interface Pebble {
  readonly directoryUrl: string;
  /** The port pebble validates HTTP-01 challenges on. */
  readonly httpPort: number;
  /** The CA certificate of pebble's own HTTPS (for NODE_EXTRA_CA_CERTS or an agent). */
  readonly serverCaFile: string;
  readonly serverCaPem: string;
  /** Pebble's issuing root (new each run), which clients of issued certificates must trust. */
  issuingRoot(): Promise<string>;
  /** Orders placed so far (pebble logs "Added order" with the order id only, not its names). */
  orders(): number;
  /** Certificates issued so far. */
  issued(): number;
  log(): string;
  stop(): Promise<void>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const tcp = createServer();
    tcp.once('error', () => resolve(false));
    tcp.listen(port, '127.0.0.1', () => {
      const udp = createSocket('udp4');
      udp.once('error', () => tcp.close(() => resolve(false)));
      udp.bind(port, '127.0.0.1', () => udp.close(() => tcp.close(() => resolve(true))));
    });
  });
}

/** A port in 20000-32767 that is free now for TCP and UDP on 127.0.0.1. */
export async function pickUnusedPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await portIsFree(port)) return port;
  }
  throw new Error('no free port found in 20000-32767');
}

function getText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

function waitForLine(child: ChildProcess, output: () => string, pattern: RegExp, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(output())) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        child.stderr?.off('data', check);
        resolve();
      }
    };
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}):\n${output()}`)));
    check();
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return { child, output: () => text };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Starts challtestsrv and pebble; `stop()` ends both. */
export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const dir = tempDir('wd-pebble-');
  // Pebble's own HTTPS certificate, for 127.0.0.1 and localhost.
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=pebble test server', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { cwd: dir, stdio: 'ignore' },
  );
  const [listenPort, managementPort, dnsPort, dnsManagementPort] = [await pickUnusedPort(), await pickUnusedPort(), await pickUnusedPort(), await pickUnusedPort()];
  const httpPort = options.httpPort ?? (await pickUnusedPort());
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listenPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: path.join(dir, 'cert.pem'),
      privateKey: path.join(dir, 'key.pem'),
      httpPort,
      tlsPort: httpPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eab !== undefined,
      ...(options.eab === undefined ? {} : { externalAccountMACKeys: { [options.eab.kid]: options.eab.hmacKey } }),
      ...(options.certificateValiditySecs === undefined ? {} : { certificateValidityPeriod: options.certificateValiditySecs }),
    },
  };
  const configFile = path.join(dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify(config));

  const dns = run(
    'pebble-challtestsrv',
    ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`],
    {},
  );
  await waitForLine(dns.child, dns.output, /Starting management server/, 'pebble-challtestsrv');
  // No random sleeps before validation; no deliberately rejected nonces (acme-client retries them, but slowly).
  const ca = run('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
  try {
    await waitForLine(ca.child, ca.output, /ACME directory available/, 'pebble');
  } catch (error) {
    await stopChild(dns.child);
    throw error;
  }
  const serverCaFile = path.join(dir, 'cert.pem');
  const serverCaPem = readFileSync(serverCaFile, 'utf8');
  return {
    directoryUrl: `https://127.0.0.1:${listenPort}/dir`,
    httpPort,
    serverCaFile,
    serverCaPem,
    issuingRoot: () => getText(`https://127.0.0.1:${managementPort}/roots/0`, serverCaPem),
    orders: () => ca.output().split('\n').filter((line) => line.includes('Added order')).length,
    issued: () => ca.output().split('\n').filter((line) => line.includes('Issued certificate serial')).length,
    log: ca.output,
    stop: async () => {
      await stopChild(ca.child);
      await stopChild(dns.child);
    },
  };
}
