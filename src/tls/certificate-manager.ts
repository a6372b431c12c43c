/**
 * Keeps one ACME certificate per domain of `[tls] domains` current:
 *
 * - at start, loads what the store holds (a restart orders nothing);
 * - orders a missing certificate at once, and renews one when a third of its
 *   lifetime remains (timers at the due time, re-armed at least daily);
 * - takes the store's lock for the domain first, and reads the store again
 *   under it, so that in a cluster one node orders and the others load its result
 *   (told by the store's events, or when they look again);
 * - on failure keeps the certificate it has (even expired: a failed renewal never
 *   removes one), records the failure for `check`, logs it, and tries again after
 *   1 min, 2, 4, ... up to 6 h, each delay with ±20 % jitter so that nodes and
 *   domains do not retry in step.
 *
 * Listeners get the whole list of servable ACME certificates after every change.
 *
 * @module
 */
import type { AcmeSpec } from '../config/types.js';
import { judgePair, readCertificateInfo, renewalDueAt, type CertificateInfo, type CertificatePair } from './certificate-info.js';
import type { ServableCertificate } from './certificate-files.js';
import type { CertificateStore, RenewalFailure } from './certificate-store.js';

export const RETRY_BASE_MS = 60_000;
export const RETRY_MAX_MS = 6 * 3600_000;
/** When another node holds a domain's lock, look again after this long (its NOTIFY usually comes first). */
export const LOCK_BUSY_RECHECK_MS = 30_000;
/** Timers are re-armed at least this often: setTimeout cannot wait 60 days, and clocks get corrected. */
const MAX_TIMER_MS = 24 * 3600_000;

/** ±20 %: `random` is injectable for tests. */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.8 + 0.4 * random()));
}

/** The delay before retry number `failures` (1, 2, ...), before jitter. */
export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, failures - 1));
}

/** What orders certificates; AcmeIssuer in production. */
export interface Issuer {
  issue(domain: string): Promise<CertificatePair>;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** One domain's state, for `check` and status. */
export interface DomainStatus {
  readonly domain: string;
  readonly info: CertificateInfo | undefined;
  readonly renewAt: Date | undefined;
  readonly lastFailure: RenewalFailure | undefined;
  /** When this node will look again (order, renew, or retry). */
  readonly nextAttemptAt: Date | undefined;
}

interface DomainState {
  certificate: ServableCertificate | undefined;
  failures: number;
  lastFailure: RenewalFailure | undefined;
  timer: NodeJS.Timeout | undefined;
  nextAttemptAt: Date | undefined;
  busy: boolean;
}

export interface CertificateManagerOptions {
  readonly spec: AcmeSpec;
  readonly store: CertificateStore;
  readonly issuer: Issuer;
  readonly log: Logger;
  readonly now?: () => Date;
  readonly random?: () => number;
}

export class CertificateManager {
  readonly #spec: AcmeSpec;
  readonly #store: CertificateStore;
  readonly #issuer: Issuer;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #random: () => number;
  readonly #domains = new Map<string, DomainState>();
  readonly #listeners = new Set<(certificates: ServableCertificate[]) => void>();
  #unsubscribe: (() => void) | undefined;
  #stopped = false;

  constructor(options: CertificateManagerOptions) {
    this.#spec = options.spec;
    this.#store = options.store;
    this.#issuer = options.issuer;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
    this.#random = options.random ?? Math.random;
    for (const domain of this.#spec.domains) {
      this.#domains.set(domain, { certificate: undefined, failures: 0, lastFailure: undefined, timer: undefined, nextAttemptAt: undefined, busy: false });
    }
  }

  /**
   * Loads the stored certificates (resolves once they are known, before any order)
   * and schedules what is missing or due.
   */
  async start(): Promise<void> {
    this.#unsubscribe = this.#store.onEvent((event) => {
      if (event.kind === 'certificate' && this.#domains.has(event.domain)) void this.#reload(event.domain);
    });
    for (const [domain, state] of this.#domains) {
      state.lastFailure = await this.#store.loadFailure(domain);
      const stored = await this.#store.loadCertificate(domain);
      if (stored !== undefined) this.#adopt(domain, stored, 'stored');
    }
    this.#emit();
    for (const domain of this.#domains.keys()) this.#schedule(domain);
  }

  /** The ACME certificates that can be served now. */
  certificates(): ServableCertificate[] {
    return [...this.#domains.values()].flatMap((state) => (state.certificate === undefined ? [] : [state.certificate]));
  }

  onUpdate(listener: (certificates: ServableCertificate[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): DomainStatus[] {
    return [...this.#domains].map(([domain, state]) => ({
      domain,
      info: state.certificate?.info,
      renewAt: state.certificate === undefined ? undefined : renewalDueAt(state.certificate.info),
      lastFailure: state.lastFailure,
      nextAttemptAt: state.nextAttemptAt,
    }));
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const state of this.#domains.values()) clearTimeout(state.timer);
    this.#listeners.clear();
  }

  /** Whether `domain` needs an order now: no certificate, or renewal due. */
  #isDue(state: DomainState): boolean {
    return state.certificate === undefined || renewalDueAt(state.certificate.info).getTime() <= this.#now().getTime();
  }

  #schedule(domain: string, delayMs?: number): void {
    const state = this.#domains.get(domain)!;
    if (this.#stopped) return;
    clearTimeout(state.timer);
    let wait = delayMs;
    if (wait === undefined) {
      wait = state.certificate === undefined ? 0 : Math.max(0, renewalDueAt(state.certificate.info).getTime() - this.#now().getTime());
    }
    const armed = Math.min(wait, MAX_TIMER_MS);
    state.nextAttemptAt = new Date(this.#now().getTime() + wait);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (armed < wait!) this.#schedule(domain, wait! - armed);
      else void this.#attempt(domain);
    }, armed);
    state.timer.unref();
  }

  async #attempt(domain: string): Promise<void> {
    const state = this.#domains.get(domain)!;
    if (state.busy || this.#stopped) return;
    state.busy = true;
    state.nextAttemptAt = undefined;
    const renewing = state.certificate !== undefined;
    try {
      const outcome = await this.#store.withLock(domain, async () => {
        // Another node may have renewed it while this one waited: use theirs.
        const stored = await this.#store.loadCertificate(domain);
        if (stored !== undefined && stored.certPem !== state.certificate?.pair.certPem) this.#adopt(domain, stored, 'stored');
        if (!this.#isDue(state)) return false;
        const pair = await this.#issuer.issue(domain);
        await this.#store.saveCertificate({ domain, ...pair });
        this.#adopt(domain, pair, renewing ? 'renewed' : 'issued');
        return true;
      });
      if (!outcome.held) {
        this.#log.info(`another node is ordering the certificate for ${domain}; looking again in about ${LOCK_BUSY_RECHECK_MS / 1000} s`);
        this.#schedule(domain, withJitter(LOCK_BUSY_RECHECK_MS, this.#random));
        return;
      }
      state.failures = 0;
      state.lastFailure = undefined;
      this.#emit();
      this.#schedule(domain);
    } catch (error) {
      state.failures++;
      const message = error instanceof Error ? error.message : String(error);
      state.lastFailure = { at: this.#now(), message };
      await this.#store.recordFailure(domain, state.lastFailure).catch(() => undefined);
      const delay = withJitter(retryDelayMs(state.failures), this.#random);
      const keeping =
        state.certificate === undefined
          ? 'no certificate yet: HTTPS requests for it fail the handshake'
          : `still serving the current certificate, valid until ${state.certificate.info.notAfter.toISOString()}`;
      const detail = message.includes(domain) ? message : `${domain}: ${message}`;
      this.#log.error(`${renewing ? 'renewal' : 'first order'} failed (${state.failures} in a row): ${detail}; ${keeping}; next try in ${Math.round(delay / 1000)} s`);
      this.#schedule(domain, delay);
    } finally {
      state.busy = false;
    }
  }

  /** Another node saved a certificate: load it if it is new and sound. */
  async #reload(domain: string): Promise<void> {
    const state = this.#domains.get(domain)!;
    const stored = await this.#store.loadCertificate(domain).catch(() => undefined);
    if (stored === undefined || stored.certPem === state.certificate?.pair.certPem || this.#stopped) return;
    if (this.#adopt(domain, stored, 'loaded from the store')) {
      state.failures = 0;
      state.lastFailure = undefined;
      this.#emit();
      if (!state.busy) this.#schedule(domain);
    }
  }

  /**
   * Takes `pair` as the domain's certificate when it is sound (key matching, for the
   * domain); an expired one is still taken when there is nothing better, and renewed.
   */
  #adopt(domain: string, pair: CertificatePair, how: string): boolean {
    const state = this.#domains.get(domain)!;
    const verdict = judgePair(pair, this.#now());
    const usable = verdict.ok || verdict.problem.kind === 'expired' || verdict.problem.kind === 'not-yet-valid';
    const info = verdict.ok ? verdict.info : verdict.info;
    if (!usable || info === undefined || !info.names.includes(domain)) {
      this.#log.warn(`ignoring the stored certificate for ${domain}: ${verdict.ok ? 'it does not name the domain' : verdict.problem.message}`);
      return false;
    }
    if (state.certificate !== undefined && info.notAfter.getTime() < state.certificate.info.notAfter.getTime()) return false;
    state.certificate = { names: [domain], pair, info: readCertificateInfo(pair.certPem), source: `ACME (${this.#spec.caName === 'custom' ? this.#spec.directoryUrl : this.#spec.caName}), ${this.#store.description}` };
    this.#log.info(`certificate for ${domain} ${how}: valid until ${info.notAfter.toISOString()}, renewal from ${renewalDueAt(info).toISOString()}`);
    return true;
  }

  #emit(): void {
    const certificates = this.certificates();
    for (const listener of this.#listeners) listener(certificates);
  }
}
