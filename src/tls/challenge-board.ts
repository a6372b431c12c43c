/**
 * HTTP-01 answers (RFC 8555 section 8.3): while an order is pending, the CA fetches
 * `http://DOMAIN/.well-known/acme-challenge/TOKEN` and expects the key
 * authorization as the body. The CA may reach any proxy thread, and in a cluster
 * any node, so an answer is published three ways: in this process's memory (read
 * synchronously by the ingress), to the proxy workers (`onPublish`, relayed by the
 * main thread), and in the shared store, where other nodes find it (they are told
 * through the store's events, and look it up on a miss).
 *
 * @module
 */
import type { CertificateStore } from './certificate-store.js';

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** The token of a challenge path, or undefined for any other path (tokens are base64url, RFC 8555 8.1). */
export function challengeToken(path: string): string | undefined {
  if (!path.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
  const token = path.slice(ACME_CHALLENGE_PREFIX.length);
  return /^[A-Za-z0-9_-]{1,256}$/.test(token) ? token : undefined;
}

/** One change to the set of answers, as relayed to proxy workers. */
export type ChallengeChange = { readonly token: string; readonly keyAuthorization: string | undefined };

/** What a proxy thread needs to answer the CA. */
export interface ChallengeAnswers {
  /** The answer held in memory (the common case: this node ordered, or was told). */
  answer(token: string): string | undefined;
  /** A miss looked up where other nodes publish (the store), for a CA faster than the notification. */
  lookup(token: string): Promise<string | undefined>;
}

/** The main thread's answers: this node's own orders plus those other nodes announced. */
export class ChallengeBoard implements ChallengeAnswers {
  readonly #answers = new Map<string, string>();
  readonly #listeners = new Set<(change: ChallengeChange) => void>();
  readonly #store: CertificateStore;
  readonly #unsubscribe: () => void;

  constructor(store: CertificateStore) {
    this.#store = store;
    this.#unsubscribe = store.onEvent((event) => {
      if (event.kind !== 'challenge' || this.#answers.has(event.token)) return;
      void store.findChallenge(event.token).then(
        (keyAuthorization) => keyAuthorization !== undefined && this.#set(event.token, keyAuthorization),
        () => undefined,
      );
    });
  }

  /** Makes an answer available everywhere before the CA is asked to validate. */
  async publish(token: string, keyAuthorization: string): Promise<void> {
    this.#set(token, keyAuthorization);
    await this.#store.putChallenge(token, keyAuthorization);
  }

  async withdraw(token: string): Promise<void> {
    this.#answers.delete(token);
    for (const listener of this.#listeners) listener({ token, keyAuthorization: undefined });
    await this.#store.removeChallenge(token);
  }

  answer(token: string): string | undefined {
    return this.#answers.get(token);
  }

  async lookup(token: string): Promise<string | undefined> {
    const known = this.#answers.get(token);
    if (known !== undefined) return known;
    const stored = await this.#store.findChallenge(token).catch(() => undefined);
    if (stored !== undefined) this.#set(token, stored);
    return stored;
  }

  /** The answers now, for a proxy worker that starts while an order is pending. */
  snapshot(): ChallengeChange[] {
    return [...this.#answers].map(([token, keyAuthorization]) => ({ token, keyAuthorization }));
  }

  /** Every change, for the relay to proxy workers. */
  onChange(listener: (change: ChallengeChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #set(token: string, keyAuthorization: string): void {
    this.#answers.set(token, keyAuthorization);
    for (const listener of this.#listeners) listener({ token, keyAuthorization });
  }
}
