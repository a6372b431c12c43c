/**
 * ACME against a real CA (pebble, test/helpers/pebble.ts): first order, a restart
 * that orders nothing, renewal when a third of the lifetime remains, a failing CA
 * that never takes the working certificate away, External Account Binding, and two
 * nodes sharing PostgreSQL that order each domain once.
 *
 * The CA's HTTP-01 requests are answered by a plain HTTP server that asks the
 * challenge board, as warpdrive's ingress does (src/tls/challenge-board.ts); the
 * end-to-end tests through the CLI live with the listener.
 */
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { statSync, readdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as acme from 'acme-client';
import pg from 'pg';
import type { AcmeSpec } from '../../src/config/types.js';
import { AcmeIssuer } from '../../src/tls/acme-issuer.js';
import { readCertificateInfo, splitPemChain } from '../../src/tls/certificate-info.js';
import type { ServableCertificate } from '../../src/tls/certificate-files.js';
import { CertificateManager, type Logger } from '../../src/tls/certificate-manager.js';
import type { CertificateStore } from '../../src/tls/certificate-store.js';
import { ChallengeBoard, challengeToken, type ChallengeAnswers } from '../../src/tls/challenge-board.js';
import { FileStore } from '../../src/tls/file-store.js';
import { PostgresStore } from '../../src/tls/postgres-store.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { tempDir } from '../helpers/upstream.js';

const POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';

/** Logs kept for assertions (and shown when a test fails). */
function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

/** The CA's way in: `GET /.well-known/acme-challenge/TOKEN` on pebble's HTTP-01 port. */
async function serveChallenges(port: number, answers: () => ChallengeAnswers): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const token = challengeToken(req.url ?? '');
    if (token === undefined) return void res.writeHead(404).end();
    const known = answers().answer(token);
    const reply = (body: string | undefined): void => void (body === undefined ? res.writeHead(404).end() : res.writeHead(200, { 'content-type': 'text/plain' }).end(body));
    if (known !== undefined) reply(known);
    else void answers().lookup(token).then(reply, () => reply(undefined));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

function closeServer(server: http.Server | undefined): void {
  server?.closeAllConnections();
  server?.close();
}

function acmeSpec(pebble: Pebble, domains: string[], extra: Partial<AcmeSpec> = {}): AcmeSpec {
  return { domains, directoryUrl: pebble.directoryUrl, caName: 'custom', email: 'ops@example.test', eab: undefined, directory: undefined, ...extra };
}

function manager(spec: AcmeSpec, store: CertificateStore, log = recordingLog(), now?: () => Date): { manager: CertificateManager; board: ChallengeBoard; log: typeof log } {
  const board = new ChallengeBoard(store);
  const issuer = new AcmeIssuer({ spec, store, challenges: board, log: (m) => log.info(m) });
  return { manager: new CertificateManager({ spec, store, issuer, log, ...(now === undefined ? {} : { now }) }), board, log };
}

function nextUpdate(subject: CertificateManager, accept: (certificates: ServableCertificate[]) => boolean, timeoutMs: number, log: { lines: string[] }): Promise<ServableCertificate[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no matching certificate update within ${timeoutMs} ms; log:\n${log.lines.join('\n')}`));
    }, timeoutMs);
    const stop = subject.onUpdate((certificates) => {
      if (!accept(certificates)) return;
      clearTimeout(timer);
      stop();
      resolve(certificates);
    });
  });
}

/** Checks leaf -> intermediate (in the chain) -> pebble's issuing root. */
async function assertChainVerifies(certificate: ServableCertificate, pebble: Pebble): Promise<void> {
  const chain = splitPemChain(certificate.pair.certPem).map((pem) => new X509Certificate(pem));
  const root = new X509Certificate(await pebble.issuingRoot());
  assert.ok(chain.length >= 2, 'leaf and intermediate are served');
  assert.ok(chain[0]!.verify(chain[1]!.publicKey), 'the leaf is signed by the intermediate');
  assert.ok(chain[chain.length - 1]!.verify(root.publicKey), "the chain ends at pebble's root");
  assert.ok(chain[0]!.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(certificate.pair.keyPem))), 'the key matches');
}

describe('ACME against pebble', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let challenges: http.Server;
  let answers: ChallengeAnswers | undefined;

  before(async () => {
    pebble = await startPebble();
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.serverCaPem });
    challenges = await serveChallenges(pebble.httpPort, () => answers!);
  });
  after(async () => {
    closeServer(challenges);
    await pebble?.stop();
  });

  const dir = tempDir('wd-acme-');

  it('orders a certificate per domain that chains to the CA, and keeps keys private (0600)', async () => {
    const ordersBefore = pebble.orders();
    const { manager: subject, board, log } = manager(acmeSpec(pebble, ['a.test', 'www.a.test']), new FileStore(dir));
    answers = board;
    const issued = nextUpdate(subject, (certificates) => certificates.length === 2, 60_000, log);
    await subject.start();
    const certificates = await issued;
    subject.stop();
    assert.deepEqual(certificates.map((c) => c.names).sort(), [['a.test'], ['www.a.test']]);
    for (const certificate of certificates) {
      assert.deepEqual(certificate.info.names, certificate.names);
      await assertChainVerifies(certificate, pebble);
    }
    assert.equal(pebble.orders() - ordersBefore, 2);
    for (const file of [...readdirSync(path.join(dir, 'certificates')).map((f) => path.join(dir, 'certificates', f)), ...readdirSync(path.join(dir, 'accounts')).map((f) => path.join(dir, 'accounts', f))]) {
      assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is readable by warpdrive only`);
    }
  });

  it('a restart loads the stored certificates and orders nothing', async () => {
    const ordersBefore = pebble.orders();
    const { manager: subject, board } = manager(acmeSpec(pebble, ['a.test', 'www.a.test']), new FileStore(dir));
    answers = board;
    await subject.start();
    assert.deepEqual(subject.certificates().map((c) => c.names[0]).sort(), ['a.test', 'www.a.test'], 'served as soon as start() resolves');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    subject.stop();
    assert.equal(pebble.orders(), ordersBefore);
  });

  it('a failing CA never takes the working certificate away, and the failure is recorded', async () => {
    const store = new FileStore(dir);
    const before = (await store.loadCertificate('a.test'))!;
    const notAfter = readCertificateInfo(before.certPem).notAfter.getTime();
    // Renewal is due (the clock says so), and the CA is unreachable.
    const spec = acmeSpec(pebble, ['a.test'], { directoryUrl: 'https://127.0.0.1:1/dir' });
    const { manager: subject, log } = manager(spec, store, recordingLog(), () => new Date(notAfter - 1000));
    await subject.start();
    const failure = await waitFor(async () => store.loadFailure('a.test'), 30_000);
    assert.match(failure.message, /ordering a certificate for a\.test from https:\/\/127\.0\.0\.1:1\/dir failed: .*ECONNREFUSED/);
    assert.equal(subject.certificates()[0]?.pair.certPem, before.certPem, 'still serving the certificate it had');
    assert.equal((await store.loadCertificate('a.test'))?.certPem, before.certPem, 'and still storing it');
    assert.ok(log.lines.some((line) => /^error renewal failed \(1 in a row\).*still serving the current certificate.*next try in \d+ s/.test(line)), log.lines.join('\n'));
    const status = subject.status()[0]!;
    assert.ok(status.nextAttemptAt!.getTime() >= notAfter - 1000 + 47_000, 'retried after a minute, minus jitter');
    subject.stop();
  });

  it('renews when a third of the lifetime remains, and the new certificate replaces the old', async () => {
    const shortLived = await startPebble({ certificateValiditySecs: 24 });
    let server: http.Server | undefined;
    try {
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: shortLived.serverCaPem });
      server = await serveChallenges(shortLived.httpPort, () => answers!);
      const { manager: subject, board, log } = manager(acmeSpec(shortLived, ['renew.test']), new FileStore(tempDir('wd-acme-renew-')));
      answers = board;
      const first = nextUpdate(subject, (c) => c.length === 1, 60_000, log);
      await subject.start();
      const [issued] = await first;
      const lifetime = issued!.info.notAfter.getTime() - issued!.info.notBefore.getTime();
      const renewed = await nextUpdate(subject, (c) => c[0]?.info.fingerprint !== issued!.info.fingerprint, 60_000, log);
      subject.stop();
      assert.ok(Date.now() >= issued!.info.notAfter.getTime() - lifetime / 3, 'not renewed before a third of the lifetime remained');
      assert.ok(renewed[0]!.info.notAfter > issued!.info.notAfter);
      assert.equal(shortLived.orders(), 2);
    } finally {
      closeServer(server);
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.serverCaPem });
      await shortLived.stop();
    }
  });

  it('External Account Binding: accepted with the key, refused without it', async () => {
    const eab = { kid: 'kid-1', hmacKey: randomBytes(32).toString('base64url') };
    const strict = await startPebble({ eab });
    let server: http.Server | undefined;
    try {
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: strict.serverCaPem });
      server = await serveChallenges(strict.httpPort, () => answers!);
      const refused = manager(acmeSpec(strict, ['eab.test']), new FileStore(tempDir('wd-acme-eab-')));
      answers = refused.board;
      await refused.manager.start();
      const failure = await waitFor(async () => refused.manager.status()[0]?.lastFailure, 30_000);
      refused.manager.stop();
      assert.match(failure.message, /externalAccountBinding/);

      const bound = manager(acmeSpec(strict, ['eab.test'], { eab }), new FileStore(tempDir('wd-acme-eab-')));
      answers = bound.board;
      const issued = nextUpdate(bound.manager, (c) => c.length === 1, 60_000, bound.log);
      await bound.manager.start();
      await issued;
      bound.manager.stop();
    } finally {
      closeServer(server);
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.serverCaPem });
      await strict.stop();
    }
  });

  it('two nodes sharing PostgreSQL order each domain once, and both serve the result', async () => {
    const schema = `wd_tls_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: POSTGRES });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = `${POSTGRES}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const stores = [new PostgresStore(url), new PostgresStore(url)];
    try {
      const domains = ['one.test', 'two.test', 'three.test'];
      const nodes = stores.map((store) => manager(acmeSpec(pebble, domains), store));
      // The CA reaches only node B's HTTP server: node A's answers must reach B through PostgreSQL.
      answers = nodes[1]!.board;
      const ordersBefore = pebble.orders();
      const done = nodes.map((node) => nextUpdate(node.manager, (c) => c.length === 3, 90_000, node.log));
      await Promise.all(nodes.map((node) => node.manager.start()));
      const [a, b] = await Promise.all(done);
      for (const node of nodes) node.manager.stop();
      const fingerprints = (list: ServableCertificate[]): string[] => list.map((c) => `${c.names[0]} ${c.info.fingerprint}`).sort();
      assert.deepEqual(fingerprints(a!), fingerprints(b!), 'both nodes serve the same certificates');
      assert.equal(pebble.orders() - ordersBefore, 3, 'one order per domain');
      const busy = nodes.flatMap((node) => node.log.lines.filter((line) => line.includes('another node is ordering')));
      assert.ok(busy.length > 0, 'a node found a domain locked by the other');
      const told = nodes.flatMap((node) => node.log.lines.filter((line) => line.includes('loaded from the store')));
      assert.ok(told.length > 0, 'the other node was told through NOTIFY (not only by looking again)');
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
