/**
 * Cache invalidation by PostgreSQL LISTEN/NOTIFY: one connection, on the main
 * thread, listening on `[postgres] channel`. Each notification's payload is an
 * invalidation (invalidation-pattern.ts), handed to `onInvalidate`.
 *
 * Notifications sent while the connection is down are lost: PostgreSQL does not
 * keep them. So after any outage (the connection lost, or the first attempts
 * failing) the listener reports `onMissed` once it listens again, and the cache
 * purges everything it may have kept stale: memory in every thread and its Redis
 * namespace. The connection is retried with backoff (100 ms doubling to 5 s); a
 * query every 15 s catches a connection that died without a word.
 *
 * @module
 */
import type { Client } from 'pg';
import { redactUrl } from '../config/summary.js';
import { createLogger, type Logger } from '../log.js';
import { pg } from './client-libraries.js';
import { InvalidationSyntaxError, parseInvalidation, type InvalidationPattern } from './invalidation-pattern.js';

export type ListenerState = 'connecting' | 'listening' | 'down' | 'closed';

export interface PgListenerOptions {
  readonly url: string;
  readonly channel: string;
  readonly onInvalidate: (patterns: InvalidationPattern[], payload: string) => void;
  /** Notifications may have been missed (an outage ended): purge everything. */
  readonly onMissed: (reason: string) => void;
}

const HEARTBEAT_MS = 15_000;
const HEARTBEAT_TIMEOUT_MS = 5_000;
const MAX_BACKOFF_MS = 5_000;

/** `"name"`, doubling quotes inside: LISTEN takes an identifier, and pg_notify() names are case-sensitive. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The application_name the listener connects with (tests find its backend by it). */
export function listenerApplicationName(channel: string): string {
  return `warpdrive listen ${channel}`.slice(0, 63);
}

export class PgListener {
  readonly #options: PgListenerOptions;
  readonly #log: Logger = createLogger('cache');
  readonly #display: string;
  #client: Client | undefined;
  #state: ListenerState = 'connecting';
  /** Set when an attempt failed or the connection was lost: the next LISTEN must purge. */
  #outage: string | undefined;
  #attempt = 0;
  #retry: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #listening: Promise<void>;
  #resolveListening!: () => void;

  constructor(options: PgListenerOptions) {
    this.#options = options;
    this.#display = redactUrl(options.url);
    this.#listening = new Promise((resolve) => (this.#resolveListening = resolve));
    void this.#connect();
  }

  get state(): ListenerState {
    return this.#state;
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Resolves the first time the listener is listening (tests, startup log). */
  listening(): Promise<void> {
    return this.#listening;
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed') return;
    const { url, channel } = this.#options;
    const client = new (pg().Client)({
      connectionString: url,
      application_name: listenerApplicationName(channel),
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 5_000,
    });
    this.#client = client;
    client.on('error', (error: Error) => this.#lost(client, error.message));
    client.on('end', () => this.#lost(client, 'connection ended'));
    client.on('notification', (message) => {
      if (message.channel === channel) this.#notified(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      this.#lost(client, (error as Error).message);
      return;
    }
    // close() may have run while connecting.
    if (this.#client !== client || this.#isClosed()) return;
    this.#attempt = 0;
    this.#state = 'listening';
    this.#heartbeat = setInterval(() => this.#beat(client), HEARTBEAT_MS);
    this.#heartbeat.unref();
    if (this.#outage !== undefined) {
      const reason = this.#outage;
      this.#outage = undefined;
      this.#log.warn(`listening again on "${channel}" at ${this.#display} after an outage (${reason}): notifications sent meanwhile are lost, so the whole cache is purged`);
      this.#options.onMissed(reason);
    } else this.#log.info(`listening on "${channel}" at ${this.#display} for cache invalidations`);
    this.#resolveListening();
  }

  #notified(payload: string): void {
    let patterns: InvalidationPattern[];
    try {
      patterns = parseInvalidation(payload);
    } catch (error) {
      if (!(error instanceof InvalidationSyntaxError)) throw error;
      this.#log.warn(`ignored a notification on "${this.#options.channel}": ${error.message}`);
      return;
    }
    this.#options.onInvalidate(patterns, payload);
  }

  #beat(client: Client): void {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer to a heartbeat within ${HEARTBEAT_TIMEOUT_MS} ms`)), HEARTBEAT_TIMEOUT_MS);
    });
    Promise.race([client.query('SELECT 1'), timeout])
      .catch((error: Error) => this.#lost(client, error.message))
      .finally(() => clearTimeout(timer));
  }

  /** The connection `client` failed or ended: forget it, and try again after a backoff. */
  #lost(client: Client, reason: string): void {
    if (this.#client !== client || this.#state === 'closed') return;
    this.#client = undefined;
    clearInterval(this.#heartbeat);
    client.removeAllListeners();
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.#outage === undefined) {
      this.#log.warn(`not listening on "${this.#options.channel}" at ${this.#display} (${reason}): reconnecting with backoff; cache entries may be stale until then`);
    }
    this.#outage ??= reason;
    this.#state = 'down';
    const delay = Math.min(100 * 2 ** this.#attempt++, MAX_BACKOFF_MS);
    this.#retry = setTimeout(() => void this.#connect(), delay * (0.75 + Math.random() / 2));
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#retry);
    clearInterval(this.#heartbeat);
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}

/** Sends one NOTIFY (what `warpdrive purge` does when [postgres] is configured). */
export async function notify(url: string, channel: string, payload: string): Promise<void> {
  const client = new (pg().Client)({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT pg_notify($1, $2)', [channel, payload]);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One connection attempt, for `warpdrive check`: undefined when PostgreSQL answers, else why not. */
export async function probePostgres(url: string, timeoutMs: number): Promise<string | undefined> {
  const client = new (pg().Client)({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}
