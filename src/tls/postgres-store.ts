/**
 * The certificate store in PostgreSQL (`[postgres] url`), for several warpdrive
 * nodes serving the same domains:
 *
 * - tables `warpdrive_acme_accounts`, `_certificates`, `_failures`, `_challenges`
 *   in the connection's current schema (created on first use; choose another
 *   schema with `?options=-c search_path=NAME` in the URL to keep clusters apart);
 * - `pg_try_advisory_lock` on a key derived from schema and domain, so exactly
 *   one node orders or renews a domain at a time; a node that dies releases it
 *   with its session;
 * - `NOTIFY warpdrive_acme` when a certificate or a challenge is saved, so the
 *   other nodes load the new certificate and can answer the CA's HTTP-01 request
 *   whichever node the CA reaches.
 *
 * Private keys are stored as text: the database must be protected like the key
 * files would be.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { CertificateStore, LockOutcome, RenewalFailure, StoredAccount, StoredCertificate, StoreEvent } from './certificate-store.js';

const CHANNEL = 'warpdrive_acme';

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS warpdrive_acme_accounts (
  directory_url text PRIMARY KEY,
  key_pem text NOT NULL,
  account_url text
);
CREATE TABLE IF NOT EXISTS warpdrive_acme_certificates (
  domain text PRIMARY KEY,
  cert_pem text NOT NULL,
  key_pem text NOT NULL,
  saved_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS warpdrive_acme_failures (
  domain text PRIMARY KEY,
  failed_at timestamptz NOT NULL,
  message text NOT NULL
);
CREATE TABLE IF NOT EXISTS warpdrive_acme_challenges (
  token text PRIMARY KEY,
  key_authorization text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);`;

/** A signed 64-bit advisory-lock key for `text` (the first 8 bytes of its SHA-256). */
function lockKey(text: string): string {
  return createHash('sha256').update(text).digest().readBigInt64BE(0).toString();
}

export class PostgresStore implements CertificateStore {
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  #listener: pg.Client | undefined;
  #schema = '';
  #ready: Promise<void> | undefined;
  #closed = false;

  readonly #inspectOnly: boolean;

  /** `inspectOnly` (for `check`): create nothing, listen to nothing; missing tables read as empty. */
  constructor(url: string, options: { connectTimeoutMs?: number; inspectOnly?: boolean } = {}) {
    this.#url = url;
    this.#inspectOnly = options.inspectOnly ?? false;
    const shown = new URL(url);
    shown.password = shown.password === '' ? '' : '***';
    this.description = `PostgreSQL ${shown.host}${shown.pathname}`;
    this.#pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000 });
    // An idle client's error (the server restarted) must not crash warpdrive; the next query reconnects.
    this.#pool.on('error', () => undefined);
  }

  /** Creates the tables (once per process) and starts listening for other nodes. */
  ready(): Promise<void> {
    this.#ready ??= this.#prepare();
    return this.#ready;
  }

  async loadAccount(directoryUrl: string): Promise<StoredAccount | undefined> {
    const row = await this.#one<{ key_pem: string; account_url: string | null }>('SELECT key_pem, account_url FROM warpdrive_acme_accounts WHERE directory_url = $1', [directoryUrl]);
    return row === undefined ? undefined : { keyPem: row.key_pem, url: row.account_url ?? undefined };
  }

  async saveAccount(directoryUrl: string, account: StoredAccount): Promise<void> {
    await this.#query(
      `INSERT INTO warpdrive_acme_accounts (directory_url, key_pem, account_url) VALUES ($1, $2, $3)
       ON CONFLICT (directory_url) DO UPDATE SET key_pem = EXCLUDED.key_pem, account_url = EXCLUDED.account_url`,
      [directoryUrl, account.keyPem, account.url ?? null],
    );
  }

  async loadCertificate(domain: string): Promise<StoredCertificate | undefined> {
    const row = await this.#one<{ cert_pem: string; key_pem: string }>('SELECT cert_pem, key_pem FROM warpdrive_acme_certificates WHERE domain = $1', [domain]);
    return row === undefined ? undefined : { domain, certPem: row.cert_pem, keyPem: row.key_pem };
  }

  async saveCertificate(certificate: StoredCertificate): Promise<void> {
    await this.#query(
      `INSERT INTO warpdrive_acme_certificates (domain, cert_pem, key_pem, saved_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (domain) DO UPDATE SET cert_pem = EXCLUDED.cert_pem, key_pem = EXCLUDED.key_pem, saved_at = now()`,
      [certificate.domain, certificate.certPem, certificate.keyPem],
    );
    await this.#query('DELETE FROM warpdrive_acme_failures WHERE domain = $1', [certificate.domain]);
    await this.#notify({ kind: 'certificate', domain: certificate.domain });
  }

  async recordFailure(domain: string, failure: RenewalFailure): Promise<void> {
    await this.#query(
      `INSERT INTO warpdrive_acme_failures (domain, failed_at, message) VALUES ($1, $2, $3)
       ON CONFLICT (domain) DO UPDATE SET failed_at = EXCLUDED.failed_at, message = EXCLUDED.message`,
      [domain, failure.at, failure.message],
    );
  }

  async loadFailure(domain: string): Promise<RenewalFailure | undefined> {
    const row = await this.#one<{ failed_at: Date; message: string }>('SELECT failed_at, message FROM warpdrive_acme_failures WHERE domain = $1', [domain]);
    return row === undefined ? undefined : { at: row.failed_at, message: row.message };
  }

  async putChallenge(token: string, keyAuthorization: string): Promise<void> {
    await this.#query(
      `INSERT INTO warpdrive_acme_challenges (token, key_authorization) VALUES ($1, $2)
       ON CONFLICT (token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization`,
      [token, keyAuthorization],
    );
    await this.#notify({ kind: 'challenge', token });
  }

  async removeChallenge(token: string): Promise<void> {
    await this.#query('DELETE FROM warpdrive_acme_challenges WHERE token = $1', [token]);
  }

  async findChallenge(token: string): Promise<string | undefined> {
    const row = await this.#one<{ key_authorization: string }>('SELECT key_authorization FROM warpdrive_acme_challenges WHERE token = $1', [token]);
    return row?.key_authorization;
  }

  async withLock<T>(name: string, work: () => Promise<T>): Promise<LockOutcome<T>> {
    await this.ready();
    // A session lock lives on one connection, held for the whole order. Its own client, not one of
    // the pool's: the work inside queries through the pool, which lock holders must not exhaust.
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    const key = lockKey(`warpdrive-acme:${this.#schema}:${name}`);
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key]);
      if (!rows[0]?.locked) return { held: false };
      return { held: true, value: await work() };
    } finally {
      // Ending the session releases the lock, also when the connection was lost mid-work.
      await client.end().catch(() => undefined);
    }
  }

  onEvent(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener?.end().catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }

  async #prepare(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      this.#schema = (await client.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]?.schema ?? 'public';
      if (this.#inspectOnly) return;
      // Two nodes starting together would race in CREATE TABLE IF NOT EXISTS; a transaction lock orders them.
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`warpdrive-acme-schema:${this.#schema}`)]);
      await client.query(SCHEMA_SQL);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    if (!this.#inspectOnly) await this.#listen();
  }

  /** A dedicated connection for LISTEN, reconnected when it drops. */
  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url });
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.#closed) return;
      setTimeout(() => void this.#listen().catch(() => undefined), 2_000).unref();
    });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || message.payload === undefined) return;
      let parsed: { schema?: string } & Partial<StoreEvent>;
      try {
        parsed = JSON.parse(message.payload) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.schema !== this.#schema) return;
      const event: StoreEvent | undefined =
        parsed.kind === 'certificate' && typeof parsed.domain === 'string'
          ? { kind: 'certificate', domain: parsed.domain }
          : parsed.kind === 'challenge' && typeof parsed.token === 'string'
            ? { kind: 'challenge', token: parsed.token }
            : undefined;
      if (event !== undefined) for (const listener of this.#listeners) listener(event);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.#listener = client;
  }

  async #notify(event: StoreEvent): Promise<void> {
    await this.#query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ schema: this.#schema, ...event })]);
  }

  async #query(sql: string, values: unknown[]): Promise<pg.QueryResult> {
    await this.ready();
    return this.#pool.query(sql, values);
  }

  async #one<Row extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<Row | undefined> {
    try {
      const result = await this.#query(sql, values);
      return result.rows[0] as Row | undefined;
    } catch (error) {
      // 42P01 undefined_table: nothing was ever stored (only possible when inspecting).
      if (this.#inspectOnly && (error as { code?: string }).code === '42P01') return undefined;
      throw error;
    }
  }
}
