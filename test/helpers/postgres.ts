/**
 * PostgreSQL for tests: the shared server (127.0.0.1:5432, trust auth, database
 * `test`), with channel and table names unique to the test run.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** `wd_<label>_<random>`: a channel or table name no other test run uses. */
export function uniqueName(label: string): string {
  return `wd_${label}_${randomBytes(5).toString('hex')}`;
}

/** Runs statements on a short-lived connection. */
export async function sql(statements: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await client.query(statements, params);
  } finally {
    await client.end();
  }
}
