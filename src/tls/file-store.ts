/**
 * The certificate store on disk, under `[tls] acme_directory`:
 *
 *     accounts/<hash of the CA directory URL>.json   account key + URL     (0600)
 *     certificates/<domain>.json                     chain + key           (0600)
 *     failures/<domain>.json                         last renewal failure
 *     challenges/<token>                             HTTP-01 answers
 *     locks/<name>.lock                              who is ordering what
 *
 * Each file is written to a temporary name and renamed, so a reader (another
 * node on a shared volume, or `check`) never sees half of one, and a certificate
 * and its key always change together (one file). The lock is a file created with
 * O_EXCL (atomic on local file systems and NFSv3+); its holder touches it every
 * 20 s, and a lock untouched for 90 s belonged to a node that died and is taken over.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { CertificateStore, LockOutcome, RenewalFailure, StoredAccount, StoredCertificate, StoreEvent } from './certificate-store.js';

const LOCK_REFRESH_MS = 20_000;
const LOCK_STALE_MS = 90_000;

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, file);
}

async function removeIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export class FileStore implements CertificateStore {
  readonly description: string;
  readonly #root: string;
  readonly #ready: Promise<void>;

  constructor(directory: string) {
    this.#root = path.resolve(directory);
    this.description = `files under ${this.#root}`;
    this.#ready = Promise.all(
      ['accounts', 'certificates', 'failures', 'challenges', 'locks'].map((sub) => mkdir(path.join(this.#root, sub), { recursive: true, mode: 0o700 })),
    ).then(() => undefined);
  }

  async loadAccount(directoryUrl: string): Promise<StoredAccount | undefined> {
    await this.#ready;
    const saved = await readJson<{ keyPem: string; url?: string }>(this.#accountFile(directoryUrl));
    return saved === undefined ? undefined : { keyPem: saved.keyPem, url: saved.url };
  }

  async saveAccount(directoryUrl: string, account: StoredAccount): Promise<void> {
    await this.#ready;
    await writeAtomically(this.#accountFile(directoryUrl), JSON.stringify({ directoryUrl, keyPem: account.keyPem, url: account.url }, null, 2), 0o600);
  }

  async loadCertificate(domain: string): Promise<StoredCertificate | undefined> {
    await this.#ready;
    const saved = await readJson<{ certPem: string; keyPem: string }>(this.#certificateFile(domain));
    return saved === undefined ? undefined : { domain, certPem: saved.certPem, keyPem: saved.keyPem };
  }

  async saveCertificate(certificate: StoredCertificate): Promise<void> {
    await this.#ready;
    const content = JSON.stringify({ domain: certificate.domain, savedAt: new Date().toISOString(), certPem: certificate.certPem, keyPem: certificate.keyPem }, null, 2);
    await writeAtomically(this.#certificateFile(certificate.domain), content, 0o600);
    await removeIfPresent(path.join(this.#root, 'failures', `${certificate.domain}.json`));
  }

  async recordFailure(domain: string, failure: RenewalFailure): Promise<void> {
    await this.#ready;
    await writeAtomically(path.join(this.#root, 'failures', `${domain}.json`), JSON.stringify({ at: failure.at.toISOString(), message: failure.message }), 0o644);
  }

  async loadFailure(domain: string): Promise<RenewalFailure | undefined> {
    await this.#ready;
    const saved = await readJson<{ at: string; message: string }>(path.join(this.#root, 'failures', `${domain}.json`));
    return saved === undefined ? undefined : { at: new Date(saved.at), message: saved.message };
  }

  async putChallenge(token: string, keyAuthorization: string): Promise<void> {
    await this.#ready;
    await writeAtomically(this.#challengeFile(token), keyAuthorization, 0o644);
  }

  async removeChallenge(token: string): Promise<void> {
    await removeIfPresent(this.#challengeFile(token));
  }

  async findChallenge(token: string): Promise<string | undefined> {
    // Tokens come from requests: only base64url characters reach the file system.
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) return undefined;
    try {
      return await readFile(this.#challengeFile(token), 'utf8');
    } catch {
      return undefined;
    }
  }

  async withLock<T>(name: string, work: () => Promise<T>): Promise<LockOutcome<T>> {
    await this.#ready;
    const file = path.join(this.#root, 'locks', `${name}.lock`);
    if (!(await this.#acquire(file))) return { held: false };
    const refresh = setInterval(() => {
      const now = new Date();
      utimes(file, now, now).catch(() => undefined);
    }, LOCK_REFRESH_MS);
    refresh.unref();
    try {
      return { held: true, value: await work() };
    } finally {
      clearInterval(refresh);
      await removeIfPresent(file);
    }
  }

  onEvent(_listener: (event: StoreEvent) => void): () => void {
    // Files announce nothing; other nodes' certificates are found when this node checks again.
    return () => undefined;
  }

  async close(): Promise<void> {}

  /** Creates the lock file, taking over one that went stale; false when a live holder has it. */
  async #acquire(file: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(file, 'wx', 0o644);
        await handle.writeFile(JSON.stringify({ host: hostname(), pid: process.pid, since: new Date().toISOString() }));
        await handle.close();
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age < LOCK_STALE_MS) return false;
      await removeIfPresent(file);
    }
    return false;
  }

  #accountFile(directoryUrl: string): string {
    return path.join(this.#root, 'accounts', `${createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16)}.json`);
  }

  #certificateFile(domain: string): string {
    return path.join(this.#root, 'certificates', `${domain}.json`);
  }

  #challengeFile(token: string): string {
    return path.join(this.#root, 'challenges', token);
  }
}
