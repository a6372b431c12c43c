/**
 * Automatic HTTPS through the real CLI against a real ACME CA (pebble, with its
 * DNS server answering 127.0.0.1): the first certificates are ordered at start
 * and served by every proxy thread; a restart orders nothing; a renewal swaps the
 * certificate while keep-alive requests run, with none failing; a domain whose
 * first order cannot succeed gets an explanatory 503 on plain HTTP.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { after, before, beforeEach, describe, it } from 'node:test';
import { httpGet, httpsGet } from '../helpers/https-client.js';
import { pickUnusedPort, startPebble, type Pebble } from '../helpers/pebble.js';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';
import { echoHandler, startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { runCli, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

function acmeConfig(pebble: Pebble, app: TestUpstream, domains: string[], directory: string, acmeCa = pebble.directoryUrl, extra = '', httpPort = pebble.httpPort): string {
  return writeConfig(`${extra}
[server]
http_port = ${httpPort}
https_port = 0
bind_address = "127.0.0.1"
worker_threads = 2

[tls]
enabled = true
domains = ${JSON.stringify(domains)}
acme_ca = "${acmeCa}"
email = "ops@example.test"
acme_directory = "${directory}"

[upstreams.app]
${app.toml}

[[routes]]
path_prefix = "/"
upstream = "app"
`);
}

function httpsPortOf(warpdrive: RunningWarpdrive): number {
  return Number(/listening on https:\/\/\S+:(\d+)/.exec(warpdrive.output())![1]);
}

async function waitForOutput(warpdrive: RunningWarpdrive, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(warpdrive.output())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${warpdrive.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** New connections (one per request) until `count` in a row were answered with a certificate `accept`s. */
async function newConnectionsSee(port: number, name: string, root: string, accept: (c: X509Certificate) => boolean, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  while (streak < count) {
    if (Date.now() > deadline) throw new Error(`new connections did not see the expected certificate within ${timeoutMs} ms`);
    const answer = await httpsGet(port, name, '/', root).catch(() => undefined);
    const certificate = answer === undefined ? undefined : new X509Certificate(answer.certificate.raw);
    streak = answer?.status === 200 && certificate !== undefined && accept(certificate) ? streak + 1 : 0;
    if (streak === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('automatic HTTPS with ACME (pebble), through the CLI', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let app: TestUpstream;
  let root: string;
  const running: RunningWarpdrive[] = [];
  const env = (p: Pebble): Record<string, string> => ({ NODE_EXTRA_CA_CERTS: p.serverCaFile });

  before(async () => {
    pebble = await startPebble();
    app = await startUpstream(echoHandler('app'));
    root = await pebble.issuingRoot();
  });
  // A test that failed left its warpdrive running (on pebble's HTTP-01 port): stop it before the next one.
  beforeEach(async () => {
    for (const w of running.splice(0)) await w.stop();
  });
  after(async () => {
    for (const w of running) await w.stop();
    await app?.close();
    await pebble?.stop();
  });

  const directory = tempDir('wd-acme-cli-');

  it('orders one certificate per domain at start; every thread serves a chain that verifies', async () => {
    const warpdrive = await startWarpdrive(acmeConfig(pebble, app, ['shop.test', 'www.shop.test'], directory), { env: env(pebble) });
    running.push(warpdrive);
    await waitForOutput(warpdrive, /now serving 2 certificate\(s\)/, 60_000);
    const port = httpsPortOf(warpdrive);
    // Twenty new connections, spread by the kernel over both threads, all verify against pebble's root.
    await newConnectionsSee(port, 'shop.test', root, (c) => c.subjectAltName === 'DNS:shop.test', 20, 10_000);
    await newConnectionsSee(port, 'www.shop.test', root, (c) => c.subjectAltName === 'DNS:www.shop.test', 20, 10_000);
    const answer = await httpsGet(port, 'shop.test', '/x', root);
    assert.equal((JSON.parse(answer.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
    assert.equal(pebble.orders(), 2);
    const redirect = await httpGet(pebble.httpPort, 'shop.test', '/cart?id=3');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, `https://shop.test:${port}/cart?id=3`);
    assert.equal(await warpdrive.stop(), 0);
    running.pop();
  });

  it('check says where each certificate comes from, when it expires and when it renews', async () => {
    const { code, stdout, stderr } = await runCli(['check', '--config', acmeConfig(pebble, app, ['shop.test', 'www.shop.test', 'later.test'], directory)], env(pebble));
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`ACME from ${pebble.directoryUrl.replace(/[.]/g, '\\.')}, contact ops@example\\.test; stored in files under `));
    assert.match(stdout, /^ {2}shop\.test: ACME, expires \d{4}-\d\d-\d\dT.* \(in \d+ day\(s\)\), issued by .*Pebble.*; renewal from \d{4}-/m);
    assert.match(stdout, /^ {2}www\.shop\.test: ACME, expires /m);
    assert.match(stdout, /^ {2}later\.test: none yet; ordered when warpdrive starts/m);
  });

  it('a restart serves the stored certificates from the first connection and orders nothing', async () => {
    const orders = pebble.orders();
    const warpdrive = await startWarpdrive(acmeConfig(pebble, app, ['shop.test', 'www.shop.test'], directory), { env: env(pebble) });
    running.push(warpdrive);
    assert.match(warpdrive.output(), /listening on https:\/\/\S+ \(2 certificate\(s\) now/);
    const answer = await httpsGet(httpsPortOf(warpdrive), 'shop.test', '/', root);
    assert.equal(answer.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(pebble.orders(), orders);
    await warpdrive.stop();
    running.pop();
  });

  it('a domain whose first order fails: plain HTTP explains with 503, HTTPS has no certificate to offer, check shows the failure', async () => {
    const config = acmeConfig(pebble, app, ['pending.test'], tempDir('wd-acme-pending-'), 'https://127.0.0.1:1/dir');
    const warpdrive = await startWarpdrive(config, { env: env(pebble) });
    running.push(warpdrive);
    const page = await httpGet(pebble.httpPort, 'pending.test', '/');
    assert.equal(page.status, 503);
    assert.equal(page.headers['retry-after'], '30');
    assert.match(page.body, /certificate for pending\.test is being obtained/);
    await assert.rejects(httpsGet(httpsPortOf(warpdrive), 'pending.test', '/', root));
    await waitForOutput(warpdrive, /first order failed \(1 in a row\): ordering a certificate for pending\.test from https:\/\/127\.0\.0\.1:1\/dir failed/, 30_000);
    await warpdrive.stop();
    running.pop();
    const { stdout } = await runCli(['check', '--config', config], env(pebble));
    assert.match(stdout, /^ {2}pending\.test: none yet/m);
    assert.match(stdout, /^ {4}last renewal failure \d{4}-.*: ordering a certificate for pending\.test from https:\/\/127\.0\.0\.1:1\/dir failed: the CA did not answer \(ECONNREFUSED/m);
  });

  it('two warpdrive processes sharing PostgreSQL order each domain once; the CA reaches only one, which answers the other\'s challenges', async () => {
    const schema = `wd_tls_cli_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: POSTGRES });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      const url = `${POSTGRES}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const postgres = `[postgres]\nurl = "${url}"\n`;
      const domains = ['alpha.test', 'beta.test', 'gamma.test', 'delta.test'];
      const orders = pebble.orders();
      // Node A listens where pebble validates; node B elsewhere, so B's orders are validated through A.
      const otherPort = await pickUnusedPort();
      // Started together, so that both find every domain without a certificate.
      const [a, b] = await Promise.all([
        startWarpdrive(acmeConfig(pebble, app, domains, tempDir('wd-acme-a-'), pebble.directoryUrl, postgres), { env: env(pebble) }),
        startWarpdrive(acmeConfig(pebble, app, domains, tempDir('wd-acme-b-'), pebble.directoryUrl, postgres, otherPort), { env: env(pebble) }),
      ]);
      running.push(a!, b!);
      try {
        for (const node of [a!, b!]) {
          for (const domain of domains) await newConnectionsSee(httpsPortOf(node), domain, root, (c) => c.subjectAltName === `DNS:${domain}`, 3, 60_000);
        }
      } catch (error) {
        throw new Error(`${(error as Error).message}; node A:\n${a!.output()}\nnode B:\n${b!.output()}`);
      }
      assert.equal(pebble.orders() - orders, 4, `one order per domain across both processes; node A:\n${a!.output()}\nnode B:\n${b!.output()}`);
      const ordered = (node: RunningWarpdrive): number => (node.output().match(/\[tls\] ordering a certificate for /g) ?? []).length;
      const logs = `node A:\n${a!.output()}\nnode B:\n${b!.output()}`;
      assert.ok(!/order failed/.test(logs), `no order failed; ${logs}`);
      assert.equal(ordered(a!) + ordered(b!), 4, logs);
      assert.match(logs, /another node is ordering the certificate for/, 'the nodes met at a lock');
      await Promise.all([a!.stop(), b!.stop()]);
      running.splice(0, running.length);
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('renewal swaps the certificate in every thread while 1,000 keep-alive requests run, none failing', async () => {
    const shortLived = await startPebble({ certificateValiditySecs: 21 });
    const shortRoot = await shortLived.issuingRoot();
    try {
      const warpdrive = await startWarpdrive(acmeConfig(shortLived, app, ['renew.test'], tempDir('wd-acme-renew-')), { env: env(shortLived) });
      running.push(warpdrive);
      await waitForOutput(warpdrive, /now serving 1 certificate\(s\)/, 60_000);
      const port = httpsPortOf(warpdrive);
      const first = new X509Certificate((await httpsGet(port, 'renew.test', '/', shortRoot)).certificate.raw);
      const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
      let ok = 0;
      const failures: string[] = [];
      let renewedSeen = false;
      const deadline = Date.now() + 60_000;
      const loop = async (): Promise<void> => {
        while ((ok + failures.length < 1000 || !renewedSeen) && Date.now() < deadline) {
          try {
            const answer = await httpsGet(port, 'renew.test', '/', shortRoot, agent);
            if (answer.status === 200) ok++;
            else failures.push(`status ${answer.status}`);
          } catch (error) {
            failures.push(String(error));
          }
          renewedSeen ||= /certificate for renew\.test renewed/.test(warpdrive.output());
          // About 60 requests a second in all: the 1,000 span the renewal (due 14 s after issuance).
          await new Promise((resolve) => setTimeout(resolve, 60));
        }
      };
      await Promise.all([loop(), loop(), loop(), loop()]);
      agent.destroy();
      assert.ok(renewedSeen, `renewed within the run; output:\n${warpdrive.output()}`);
      assert.deepEqual(failures, []);
      assert.ok(ok >= 1000, `${ok} requests`);
      await newConnectionsSee(port, 'renew.test', shortRoot, (c) => c.fingerprint256 !== first.fingerprint256 && new Date(c.validTo) > new Date(first.validTo), 20, 10_000);
      await warpdrive.stop();
      running.pop();
    } finally {
      await shortLived.stop();
    }
  });
});
