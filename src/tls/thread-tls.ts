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

/** How long a worker waits for the main thread to find an answer it lacks. */
const LOOKUP_WAIT_MS = 3_000;

/**
 * A proxy worker's copy of the main thread's HTTP-01 answers. A miss (another
 * node's order, announced later than the CA asks) is asked of the main thread,
 * which looks in the shared store and relays what it finds.
 */
export class ChallengeMirror implements ChallengeAnswers {
  readonly #answers = new Map<string, string>();
  readonly #waiters = new Map<string, Array<(keyAuthorization: string | undefined) => void>>();
  readonly #ask: (token: string) => void;

  constructor(present: readonly ChallengeChange[], ask: (token: string) => void) {
    this.#ask = ask;
    for (const change of present) this.apply(change);
  }

  apply(change: ChallengeChange): void {
    if (change.keyAuthorization === undefined) {
      this.#answers.delete(change.token);
      return;
    }
    this.#answers.set(change.token, change.keyAuthorization);
    const waiting = this.#waiters.get(change.token);
    this.#waiters.delete(change.token);
    for (const resolve of waiting ?? []) resolve(change.keyAuthorization);
  }

  answer(token: string): string | undefined {
    return this.#answers.get(token);
  }

  lookup(token: string): Promise<string | undefined> {
    const known = this.#answers.get(token);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.#waiters.get(token);
        list?.splice(list.indexOf(settle), 1);
        resolve(undefined);
      }, LOOKUP_WAIT_MS);
      const settle = (keyAuthorization: string | undefined): void => {
        clearTimeout(timer);
        resolve(keyAuthorization);
      };
      const list = this.#waiters.get(token) ?? [];
      list.push(settle);
      this.#waiters.set(token, list);
      if (list.length === 1) this.#ask(token);
    });
  }
}
