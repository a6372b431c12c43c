/**
 * The cache's parts of the command line:
 *
 * - `warpdrive check` adds whether Redis and PostgreSQL answer now;
 * - `warpdrive purge PATTERN... --config FILE` invalidates. With `[postgres]` it
 *   sends a NOTIFY on the channel, which every warpdrive node listening purges
 *   (this one included); without, it posts the patterns to the running
 *   warpdrive's admin endpoint (`/.warpdrive/purge`, with the admin token),
 *   found through the control file `warpdrive reload` uses.
 *
 * @module
 */
import { request } from 'undici';
import { formatInvalidation, InvalidationSyntaxError, parseInvalidation } from '../cache/invalidation-pattern.js';
import { notify, probePostgres } from '../cache/pg-listener.js';
import { probeRedis } from '../cache/redis-store.js';
import { loadConfig } from '../config/index.js';
import { redactUrl } from '../config/summary.js';
import type { RuntimePlan } from '../config/types.js';
import { PURGE_PATH } from '../filters/cache-purge.js';
import { controlFilePath, readControlState } from '../runtime/control-file.js';

/** How long `check` waits for each of Redis and PostgreSQL. */
const PROBE_TIMEOUT_MS = 2_000;

export class PurgeCommandError extends Error {
  /** WD_ERR_ARGUMENT (what was typed), WD_ERR_PURGE (nothing could be purged). */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** `check`'s lines on the cache's services, probed now. */
export async function cacheReachability(plan: RuntimePlan): Promise<string[]> {
  const lines: string[] = [];
  const redisUrl = plan.cache?.redisUrl;
  // Without [cache], [postgres] keeps ACME state only: the TLS lines speak of it.
  const postgres = plan.cache === undefined ? undefined : plan.postgres;
  const [redis, pg] = await Promise.all([
    redisUrl === undefined ? undefined : probeRedis(redisUrl, PROBE_TIMEOUT_MS),
    postgres === undefined ? undefined : probePostgres(postgres.url, PROBE_TIMEOUT_MS),
  ]);
  if (redisUrl !== undefined) {
    lines.push(
      redis === undefined
        ? `  Redis ${redactUrl(redisUrl)}: reachable`
        : `  Redis ${redactUrl(redisUrl)}: NOT reachable now (${redis}); warpdrive would serve from memory and keep trying`,
    );
  }
  if (postgres !== undefined) {
    lines.push(
      pg === undefined
        ? `  PostgreSQL ${redactUrl(postgres.url)}: reachable`
        : `  PostgreSQL ${redactUrl(postgres.url)}: NOT reachable now (${pg}); warpdrive would keep trying, and purge the cache once it listens`,
    );
  }
  return lines;
}

/** Where to reach a server listening on `host` from this machine. */
function loopbackFor(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** `warpdrive purge`: what it did, as one line. */
export async function runPurgeCommand(patterns: readonly string[], configFile: string | undefined): Promise<string> {
  let payload: string;
  try {
    payload = parseInvalidation(patterns.join(' ')).map(formatInvalidation).join(' ');
  } catch (error) {
    if (error instanceof InvalidationSyntaxError) throw new PurgeCommandError('WD_ERR_ARGUMENT', `warpdrive purge: ${error.message}`);
    throw error;
  }
  if (configFile === undefined) {
    throw new PurgeCommandError('WD_ERR_ARGUMENT', 'warpdrive purge: which cache? Give --config FILE (or set WARPDRIVE_CONFIG), the file warpdrive runs with.');
  }
  const plan = loadConfig({ configFile, env: process.env });
  if (plan.cache === undefined) throw new PurgeCommandError('WD_ERR_ARGUMENT', `warpdrive purge: ${configFile} has no [cache] section: nothing is cached`);

  if (plan.postgres !== undefined) {
    try {
      await notify(plan.postgres.url, plan.postgres.channel, payload);
    } catch (error) {
      throw new PurgeCommandError('WD_ERR_PURGE', `could not send the NOTIFY to ${redactUrl(plan.postgres.url)}: ${(error as Error).message}`);
    }
    return `sent NOTIFY "${payload}" on "${plan.postgres.channel}": every warpdrive listening there purges it (memory in every thread, and Redis)`;
  }

  const state = readControlState(controlFilePath(configFile));
  if (state === undefined || state.listen === undefined) {
    throw new PurgeCommandError('WD_ERR_PURGE', `no running warpdrive was started with ${configFile}, and there is no [postgres] to notify; start warpdrive, or add [postgres]`);
  }
  const token = plan.middleware.adminToken;
  if (token === undefined) {
    throw new PurgeCommandError(
      'WD_ERR_PURGE',
      'the admin endpoint needs an admin token, and none is set; add admin_token = "..." under [middleware] (or export WARPDRIVE_ADMIN_TOKEN), or add [postgres] to purge by NOTIFY',
    );
  }
  const url = `http://${loopbackFor(state.listen.host)}:${state.listen.port}${PURGE_PATH}`;
  let answer: { statusCode: number; text: string };
  try {
    const response = await request(url, { method: 'POST', headers: { 'x-admin-token': token, 'content-type': 'text/plain' }, body: payload });
    answer = { statusCode: response.statusCode, text: await response.body.text() };
  } catch (error) {
    throw new PurgeCommandError('WD_ERR_PURGE', `could not reach warpdrive (pid ${state.pid}) at ${url}: ${(error as Error).message}`);
  }
  if (answer.statusCode !== 200) throw new PurgeCommandError('WD_ERR_PURGE', `warpdrive (pid ${state.pid}) refused the purge: ${answer.statusCode} ${answer.text.trim()}`);
  const result = JSON.parse(answer.text) as { memory: number };
  return `purged "${payload}" in warpdrive pid ${state.pid}: ${result.memory} entries from the memory of the thread that took it; the other threads and Redis follow`;
}
