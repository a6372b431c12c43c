/**
 * Orders one certificate from an ACME CA (RFC 8555) with acme-client: the
 * account (created once per CA, kept in the store, with External Account Binding
 * when configured), a fresh ECDSA P-256 key per certificate, and HTTP-01 answers
 * published on the challenge board before the CA is asked to validate.
 *
 * acme-client's own pre-check of the challenge (`verifyChallenge`) is skipped: it
 * resolves the name through this machine's DNS and fetches it on port 80, which
 * behind NAT or a load balancer fails while the CA's validation would pass. The
 * CA's answer is the one that counts, and its error says what went wrong.
 *
 * @module
 */
import * as acme from 'acme-client';
import type { AcmeSpec } from '../config/types.js';
import type { CertificatePair } from './certificate-info.js';
import type { CertificateStore, StoredAccount } from './certificate-store.js';
import type { ChallengeBoard } from './challenge-board.js';

// acme-client retries each request up to 5 times, 5 s apart and more, and waits without
// a timeout; a CA that is down would hold a renewal for minutes. warpdrive retries whole
// orders itself, with backoff, so requests fail fast here.
acme.axios.defaults.timeout = 30_000;
const acmeSettings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
acmeSettings.retryMaxAttempts = 2;
acmeSettings.retryDefaultDelay = 2;

/**
 * After its last retry of a request that got no response (connection refused, DNS,
 * timeout), acme-client throws a TypeError ("reading 'config'") instead of the
 * network error. Its debug log did say what happened ("Caught ECONNREFUSED, retry
 * attempt 1/2 to URL ..."): keep the last such line to explain the failure.
 */
let lastTransportProblem: string | undefined;
acme.setLogger((message) => {
  if (message.startsWith('Caught ')) lastTransportProblem = message.replace(/^Caught /, '').replace(/, retry attempt \d+\/\d+ to URL /, ' from ');
});

/** An order that failed; the message names the domain, the CA and the CA's reason. */
export class AcmeOrderError extends Error {
  readonly code = 'WD_ERR_ACME_ORDER';
}

const ACCOUNT_LOCK_WAIT_MS = 60_000;

export interface AcmeIssuerOptions {
  readonly spec: AcmeSpec;
  readonly store: CertificateStore;
  readonly challenges: ChallengeBoard;
  readonly log?: (message: string) => void;
}

function describeError(error: unknown): string {
  if (error instanceof TypeError && /reading 'config'/.test(error.message)) {
    return `the CA did not answer${lastTransportProblem === undefined ? '' : ` (${lastTransportProblem})`}`;
  }
  if (error instanceof Error) {
    // axios errors carry the CA's problem document; acme-client puts its detail in the message.
    const response = (error as { response?: { status?: number; data?: { detail?: string } } }).response;
    if (response?.data?.detail !== undefined) return `${response.status ?? ''} ${response.data.detail}`.trim();
    return error.message;
  }
  return String(error);
}

export class AcmeIssuer {
  readonly #spec: AcmeSpec;
  readonly #store: CertificateStore;
  readonly #challenges: ChallengeBoard;
  readonly #log: (message: string) => void;

  constructor(options: AcmeIssuerOptions) {
    this.#spec = options.spec;
    this.#store = options.store;
    this.#challenges = options.challenges;
    this.#log = options.log ?? (() => undefined);
  }

  /** Orders a certificate for `domain` and returns it (chain + new key); throws AcmeOrderError. */
  async issue(domain: string): Promise<CertificatePair> {
    const where = `${domain} from ${this.#spec.directoryUrl}`;
    try {
      const account = await this.#account();
      const client = new acme.Client({
        directoryUrl: this.#spec.directoryUrl,
        accountKey: account.keyPem,
        ...(account.url === undefined ? {} : { accountUrl: account.url }),
        ...(this.#spec.eab === undefined ? {} : { externalAccountBinding: { kid: this.#spec.eab.kid, hmacKey: this.#spec.eab.hmacKey } }),
        // Poll the order from 1 s on (acme-client's default starts at 5 s).
        backoffMin: 1_000,
      });
      const [keyPem, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      this.#log(`ordering a certificate for ${where}`);
      const certPem = await client.auto({
        csr,
        ...(this.#spec.email === undefined ? {} : { email: this.#spec.email }),
        termsOfServiceAgreed: true,
        skipChallengeVerification: true,
        challengePriority: ['http-01'],
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type !== 'http-01') throw new Error(`the CA offers no http-01 challenge for ${domain} (got ${challenge.type})`);
          await this.#challenges.publish(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          await this.#challenges.withdraw(challenge.token);
        },
      });
      const accountUrl = client.getAccountUrl();
      if (accountUrl !== account.url) await this.#store.saveAccount(this.#spec.directoryUrl, { keyPem: account.keyPem, url: accountUrl });
      return { certPem, keyPem: keyPem.toString() };
    } catch (error) {
      throw new AcmeOrderError(`ordering a certificate for ${where} failed: ${describeError(error)}`, { cause: error });
    }
  }

  /** The CA account key, created and stored once (under a lock, so a cluster has one account). */
  async #account(): Promise<StoredAccount> {
    const deadline = Date.now() + ACCOUNT_LOCK_WAIT_MS;
    for (;;) {
      const existing = await this.#store.loadAccount(this.#spec.directoryUrl);
      if (existing !== undefined) return existing;
      const created = await this.#store.withLock('account', async () => {
        const again = await this.#store.loadAccount(this.#spec.directoryUrl);
        if (again !== undefined) return again;
        const account: StoredAccount = { keyPem: (await acme.crypto.createPrivateEcdsaKey('P-256')).toString(), url: undefined };
        // Stored before the CA knows it: a crash after registration then reuses the same key (the CA finds the account by key).
        await this.#store.saveAccount(this.#spec.directoryUrl, account);
        this.#log(`created an ACME account key for ${this.#spec.directoryUrl} (${this.#store.description})`);
        return account;
      });
      if (created.held) return created.value;
      if (Date.now() > deadline) throw new Error('another node has held the account lock for a minute; try again later');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
