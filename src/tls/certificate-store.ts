/**
 * Where ACME state lives: the account key, the certificates, the last renewal
 * failure per domain, the HTTP-01 challenge tokens, and the lock that lets one
 * node at a time order or renew a domain.
 *
 * Two implementations: files under `acme_directory` (one node, or several on a
 * shared volume; `file-store.ts`) and PostgreSQL (`postgres-store.ts`) when
 * `[postgres]` is configured. A store outlives configuration generations: a
 * reload keeps it when the ACME settings did not change.
 *
 * @module
 */
import type { CertificatePair } from './certificate-info.js';

/** The ACME account for one CA directory. */
export interface StoredAccount {
  readonly keyPem: string;
  /** The account URL the CA returned; undefined until registered. */
  readonly url: string | undefined;
}

export interface StoredCertificate extends CertificatePair {
  readonly domain: string;
}

export interface RenewalFailure {
  readonly at: Date;
  readonly message: string;
}

/** What another node did, as far as this node needs to know. */
export type StoreEvent = { readonly kind: 'certificate'; readonly domain: string } | { readonly kind: 'challenge'; readonly token: string };

export type LockOutcome<T> = { readonly held: true; readonly value: T } | { readonly held: false };

export interface CertificateStore {
  /** Said in logs and `check`: "files under /var/lib/warpdrive/acme", "PostgreSQL". */
  readonly description: string;
  loadAccount(directoryUrl: string): Promise<StoredAccount | undefined>;
  saveAccount(directoryUrl: string, account: StoredAccount): Promise<void>;
  loadCertificate(domain: string): Promise<StoredCertificate | undefined>;
  /** Saves a new certificate, clears the domain's failure, and tells the other nodes. */
  saveCertificate(certificate: StoredCertificate): Promise<void>;
  recordFailure(domain: string, failure: RenewalFailure): Promise<void>;
  loadFailure(domain: string): Promise<RenewalFailure | undefined>;
  /** Publishes an HTTP-01 answer so that every node can give it. */
  putChallenge(token: string, keyAuthorization: string): Promise<void>;
  removeChallenge(token: string): Promise<void>;
  findChallenge(token: string): Promise<string | undefined>;
  /**
   * Runs `work` while holding `name`'s lock (a domain, or `account`), or returns
   * `{ held: false }` at once when another holder has it. A holder that dies
   * loses the lock (PostgreSQL: with its session; files: when the lock file goes stale).
   */
  withLock<T>(name: string, work: () => Promise<T>): Promise<LockOutcome<T>>;
  /** Other nodes' changes (PostgreSQL LISTEN/NOTIFY); the file store has none to report. */
  onEvent(listener: (event: StoreEvent) => void): () => void;
  close(): Promise<void>;
}
