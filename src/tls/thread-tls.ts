/**
 * What one proxy thread knows about TLS, kept across configuration generations:
 * which names have a certificate now (the HTTPS redirect goes only where a
 * handshake can succeed), which names are still waiting for their first ACME
 * certificate (they get an explanatory 503 on plain HTTP), and the HTTP-01
 * answers (the main thread's ChallengeBoard, or a worker's mirror of it).
 *
 * @module
 */
import { nameCovers } from './certificate-info.js';
import type { ChallengeAnswers, ChallengeChange } from './challenge-board.js';
import type { InstalledCertificate } from './live-files.js';

export class ThreadTls {
  readonly httpsPort: number;
  readonly challenges: ChallengeAnswers;
  /** `https://host:port` suffix, empty for 443: built once. */
  readonly portSuffix: string;
  readonly #acmeDomains: ReadonlySet<string>;
  #exact = new Set<string>();
  #wildcards: string[] = [];

  constructor(httpsPort: number, acmeDomains: readonly string[], challenges: ChallengeAnswers, certificates: readonly InstalledCertificate[]) {
    this.httpsPort = httpsPort;
    this.portSuffix = httpsPort === 443 ? '' : `:${httpsPort}`;
    this.#acmeDomains = new Set(acmeDomains);
    this.challenges = challenges;
    this.update(certificates);
  }

  /** The certificates now served (after a swap). */
  update(certificates: readonly InstalledCertificate[]): void {
    const exact = new Set<string>();
    const wildcards: string[] = [];
    for (const certificate of certificates) {
      for (const name of certificate.names) {
        if (name.startsWith('*.')) wildcards.push(name);
        else exact.add(name);
      }
    }
    this.#exact = exact;
    this.#wildcards = wildcards;
  }

  /** Whether an HTTPS handshake for `host` finds a certificate. */
  covers(host: string): boolean {
    if (this.#exact.has(host)) return true;
    for (const pattern of this.#wildcards) if (nameCovers(pattern, host)) return true;
    return false;
  }

  /** A configured ACME domain whose first certificate is not here yet. */
  awaitsFirstCertificate(host: string): boolean {
    return this.#acmeDomains.has(host) && !this.covers(host);
  }
}

/** A proxy worker's copy of the main thread's HTTP-01 answers. */
export class ChallengeMirror implements ChallengeAnswers {
  readonly #answers = new Map<string, string>();

  constructor(present: readonly ChallengeChange[]) {
    for (const change of present) this.apply(change);
  }

  apply(change: ChallengeChange): void {
    if (change.keyAuthorization === undefined) this.#answers.delete(change.token);
    else this.#answers.set(change.token, change.keyAuthorization);
  }

  answer(token: string): string | undefined {
    return this.#answers.get(token);
  }

  /** Workers have no store of their own: the main thread relays every answer before the CA asks. */
  lookup(token: string): Promise<string | undefined> {
    return Promise.resolve(this.#answers.get(token));
  }
}
