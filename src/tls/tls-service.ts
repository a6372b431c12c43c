/**
 * The main thread's side of `[tls]`: the certificates every proxy thread serves.
 * File certificates are read once at start; ACME certificates come from the
 * CertificateManager (loaded from the store at start, then ordered and renewed),
 * with the store chosen by the configuration: PostgreSQL when `[postgres]` is
 * configured, files under `acme_directory` otherwise. Every certificate is copied
 * to LiveFiles (the files uWS reads), and listeners are told of each change.
 *
 * The service outlives configuration generations; a reload does not change TLS
 * (it is a restart-only setting: runtime/reload-plan.ts).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RuntimePlan, TlsSpec } from '../config/types.js';
import { createLogger } from '../log.js';
import { AcmeIssuer } from './acme-issuer.js';
import { readFileCertificates, type ServableCertificate } from './certificate-files.js';
import { CertificateManager, type DomainStatus } from './certificate-manager.js';
import type { CertificateStore } from './certificate-store.js';
import { ChallengeBoard } from './challenge-board.js';
import { FileStore } from './file-store.js';
import { LiveFiles, type InstalledCertificate } from './live-files.js';
import { PostgresStore } from './postgres-store.js';

const log = createLogger('tls');

/** The store the configuration asks for. */
export function openStore(plan: RuntimePlan): CertificateStore | undefined {
  const acme = plan.tls?.acme;
  if (acme === undefined) return undefined;
  if (plan.postgres !== undefined) return new PostgresStore(plan.postgres.url);
  return new FileStore(acme.directory!);
}

/**
 * Whether Linux moves connections waiting on a closing SO_REUSEPORT socket to its
 * siblings; without it a certificate change can reset a few connections being
 * accepted at that instant (native-notes/tls.md). Undefined where it cannot be read.
 */
export function tcpMigrateReq(): boolean | undefined {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return undefined;
  }
}

export class TlsService {
  readonly spec: TlsSpec;
  readonly challenges: ChallengeBoard | undefined;
  readonly #files: readonly ServableCertificate[];
  readonly #store: CertificateStore | undefined;
  readonly #manager: CertificateManager | undefined;
  readonly #live: LiveFiles;
  readonly #listeners = new Set<(certificates: InstalledCertificate[]) => void>();
  #installed: InstalledCertificate[] = [];

  private constructor(spec: TlsSpec, files: readonly ServableCertificate[], store: CertificateStore | undefined) {
    this.spec = spec;
    this.#files = files;
    this.#store = store;
    // Under acme_directory when there is one (with [postgres] it holds nothing else), else a private temporary directory.
    this.#live = new LiveFiles(spec.acme?.directory === undefined ? undefined : path.join(spec.acme.directory, 'live'));
    if (spec.acme !== undefined && store !== undefined) {
      this.challenges = new ChallengeBoard(store);
      const issuer = new AcmeIssuer({ spec: spec.acme, store, challenges: this.challenges, log: (message) => log.info(message) });
      this.#manager = new CertificateManager({ spec: spec.acme, store, issuer, log });
    }
  }

  /** Reads the certificate files, loads stored ACME certificates, and starts ordering what is missing. */
  static async start(plan: RuntimePlan): Promise<TlsService> {
    const spec = plan.tls!;
    const { certificates, issues } = readFileCertificates(spec.fileCertificates, new Date());
    // load.ts judged the same files moments ago; a change in between is a start failure.
    if (issues.length > 0) throw new Error(`certificate files changed since the configuration was checked: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    const service = new TlsService(spec, certificates, openStore(plan));
    if (service.#manager !== undefined) {
      await service.#manager.start();
      service.#manager.onUpdate(() => service.#refresh());
    }
    service.#installed = service.#live.install(service.#servable());
    if (tcpMigrateReq() === false) {
      log.warn('net.ipv4.tcp_migrate_req is 0: when a certificate is renewed, connections being accepted at that instant may be reset; fix: sysctl -w net.ipv4.tcp_migrate_req=1 (Linux 5.14+)');
    }
    return service;
  }

  /** The certificates to serve now, as files for uWS. */
  get certificates(): InstalledCertificate[] {
    return this.#installed;
  }

  get acmeDomains(): readonly string[] {
    return this.spec.acme?.domains ?? [];
  }

  status(): DomainStatus[] {
    return this.#manager?.status() ?? [];
  }

  onChange(listener: (certificates: InstalledCertificate[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.#manager?.stop();
    this.challenges?.close();
    await this.#store?.close();
    this.#live.close();
  }

  #servable(): ServableCertificate[] {
    return [...this.#files, ...(this.#manager?.certificates() ?? [])];
  }

  #refresh(): void {
    const next = this.#live.install(this.#servable());
    const same = next.length === this.#installed.length && next.every((c, i) => c.fingerprint === this.#installed[i]!.fingerprint);
    if (same) return;
    this.#installed = next;
    for (const listener of this.#listeners) listener(next);
  }
}
