/**
 * The Redis tier (L2): stored responses shared by every proxy thread and every
 * warpdrive node, with ioredis.
 *
 * Redis may be slow or gone; a request must not notice beyond a small delay:
 * - every command gives up after `timeoutMs` (ioredis commandTimeout), and a
 *   lookup that gives up is a miss;
 * - while disconnected, commands fail at once (no offline queue) and lookups
 *   are not even tried (`usable` is false); ioredis reconnects with backoff;
 * - after three lookups in a row time out, Redis counts as slow and is left
 *   alone for a second before it is tried again;
 * - going down and coming back are each logged once.
 *
 * Keys (all under the configured prefix, so caches can share a Redis):
 *   e:URL              the entry for URL, or, when it varies, a record of the
 *                      header names it varies on
 *   v:URL#HASH         the entry of one variant (HASH of its Vary header values)
 *   s:URL              the variant hashes of URL
 *   p:PATH             the URLs stored for a path (for path invalidation)
 *   t:TAG              the URLs whose response carries a Cache-Tag/Surrogate-Key
 * Each entry expires (Redis TTL) when it can no longer be used: freshness plus
 * stale-while-revalidate / stale-if-error. Index sets live as long as their
 * longest member. The scripts touch keys they compute, so Redis Cluster is not
 * supported (one Redis, or a primary with replicas).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redactUrl } from '../config/summary.js';
import { createLogger, type Logger } from '../log.js';
import type { CachedResponse } from './cached-response.js';
import { ioredis } from './client-libraries.js';
import { clock } from './clock.js';
import { decodeEntry, encodeEntry } from './entry-codec.js';
import type { InvalidationPattern } from './invalidation-pattern.js';
import type { SharedTier } from './response-cache.js';
import { varyMatches, varyValues } from './vary.js';

/** Marks a vary record at e:URL; the header names follow, one per line. */
const VARY_RECORD = 'WDV\n';

const STORE_SCRIPT = `
local p, key, path, payload, ttl, hash, record = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local function extend(k)
  local t = redis.call('PTTL', k)
  if t < ttl then redis.call('PEXPIRE', k, ttl) end
end
if hash == '' then
  redis.call('SET', p .. 'e:' .. key, payload, 'PX', ttl)
else
  redis.call('SET', p .. 'v:' .. key .. '#' .. hash, payload, 'PX', ttl)
  redis.call('SADD', p .. 's:' .. key, hash)
  extend(p .. 's:' .. key)
  if redis.call('GET', p .. 'e:' .. key) == record then extend(p .. 'e:' .. key)
  else redis.call('SET', p .. 'e:' .. key, record, 'PX', ttl) end
end
redis.call('SADD', p .. 'p:' .. path, key)
extend(p .. 'p:' .. path)
for i = 8, #ARGV do
  redis.call('SADD', p .. 't:' .. ARGV[i], key)
  extend(p .. 't:' .. ARGV[i])
end
return 1
`;

/**
 * Deletes the URLs listed in one index set (p:PATH or t:TAG), with their
 * variants, keeping only those on ARGV[2]'s host ('' = any) and with query
 * ARGV[3] (ARGV[4] = '1' when the query must match).
 */
const DELETE_INDEXED_SCRIPT = `
local p, host, query, matchQuery = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
local urls = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for _, url in ipairs(urls) do
  local rest = string.sub(url, (string.find(url, '://', 1, true) or -2) + 3)
  local slash = string.find(rest, '/', 1, true) or (#rest + 1)
  local urlHost = string.sub(rest, 1, slash - 1)
  local q = string.find(rest, '?', slash, true)
  local urlQuery = q and string.sub(rest, q + 1) or ''
  if (host == '' or host == urlHost) and (not matchQuery or query == urlQuery) then
    for _, hash in ipairs(redis.call('SMEMBERS', p .. 's:' .. url)) do
      redis.call('UNLINK', p .. 'v:' .. url .. '#' .. hash)
    end
    removed = removed + redis.call('UNLINK', p .. 'e:' .. url)
    redis.call('UNLINK', p .. 's:' .. url)
    redis.call('SREM', KEYS[1], url)
  end
end
return removed
`;

interface ScriptedRedis extends Redis {
  wdStore(...args: (string | Buffer | number)[]): Promise<number>;
  wdDeleteIndexed(indexKey: string, prefix: string, host: string, query: string, matchQuery: string): Promise<number>;
}

const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Consecutive timed-out lookups after which Redis counts as slow. */
const SLOW_AFTER_TIMEOUTS = 3;
/** How long a slow Redis is left alone before it is tried again. */
const SLOW_PAUSE_MS = 1000;

export type RedisState = 'connecting' | 'up' | 'down' | 'slow';

export interface RedisStoreOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  /** Log nothing (the proxy workers' connections: the main thread's logs the outage once). */
  readonly quiet?: boolean;
}

/** Escapes a string for a Redis glob pattern (SCAN MATCH). */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function varyHash(names: readonly string[], values: readonly string[]): string {
  return createHash('sha1').update(JSON.stringify([names, values])).digest('hex');
}

export class RedisStore implements SharedTier {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #display: string;
  #state: RedisState = 'connecting';
  #everUp = false;
  #timeouts = 0;
  #slowUntil = 0;

  constructor(options: RedisStoreOptions) {
    this.#prefix = options.keyPrefix;
    this.#log = options.quiet === true ? silentLogger : createLogger('cache');
    this.#display = redactUrl(options.url);
    const redis = new (ioredis().Redis)(options.url, {
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(1000, options.timeoutMs * 10),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Reconnect forever, backing off to 5 s between attempts.
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 6), 5000),
      lazyConnect: false,
    }) as ScriptedRedis;
    redis.defineCommand('wdStore', { numberOfKeys: 0, lua: STORE_SCRIPT });
    redis.defineCommand('wdDeleteIndexed', { numberOfKeys: 1, lua: DELETE_INDEXED_SCRIPT });
    redis.on('ready', () => this.#up());
    redis.on('error', (error: Error) => this.#down(error.message));
    redis.on('close', () => this.#down('connection closed'));
    this.#redis = redis;
  }

  get state(): RedisState {
    if (this.#state === 'up' && clock.now() < this.#slowUntil) return 'slow';
    return this.#state;
  }

  get usable(): boolean {
    return this.#state === 'up' && clock.now() >= this.#slowUntil;
  }

  #up(): void {
    if (this.#state === 'up') return;
    this.#log.info(this.#everUp ? `Redis at ${this.#display} is back: the shared cache tier is in use again` : `Redis at ${this.#display} connected: shared cache tier in use`);
    this.#state = 'up';
    this.#everUp = true;
    this.#timeouts = 0;
  }

  #down(reason: string): void {
    if (this.#state === 'down') return;
    this.#log.warn(`Redis at ${this.#display} is unreachable (${reason}): serving from memory only, reconnecting with backoff`);
    this.#state = 'down';
  }

  #timedOut(): void {
    if (++this.#timeouts < SLOW_AFTER_TIMEOUTS) return;
    if (clock.now() >= this.#slowUntil) this.#log.warn(`Redis at ${this.#display} is slow (${this.#timeouts} lookups in a row timed out): skipping it for ${SLOW_PAUSE_MS} ms`);
    this.#slowUntil = clock.now() + SLOW_PAUSE_MS;
    this.#timeouts = 0;
  }

  async lookup(key: string, requestHeaders: readonly string[]): Promise<CachedResponse | undefined> {
    try {
      const first = await this.#redis.getBuffer(`${this.#prefix}e:${key}`);
      this.#timeouts = 0;
      if (first === null) return undefined;
      if (first.subarray(0, VARY_RECORD.length).toString() !== VARY_RECORD) return decodeEntry(first);
      const names = first.subarray(VARY_RECORD.length).toString().split('\n');
      const values = varyValues(names, requestHeaders);
      const variant = await this.#redis.getBuffer(`${this.#prefix}v:${key}#${varyHash(names, values)}`);
      if (variant === null) return undefined;
      const entry = decodeEntry(variant);
      // A hash collision or a changed Vary must not serve the wrong variant.
      return entry !== undefined && entry.varyNames !== undefined && varyMatches(entry.varyNames, entry.varyValues!, requestHeaders) ? entry : undefined;
    } catch (error) {
      if ((error as Error).message.includes('timed out')) this.#timedOut();
      return undefined;
    }
  }

  store(entry: CachedResponse): void {
    const ttl = Math.floor(entry.usableUntilMs - clock.now());
    if (ttl <= 0 || this.#state !== 'up') return;
    const hash = entry.varyNames === undefined ? '' : varyHash(entry.varyNames, entry.varyValues!);
    const record = entry.varyNames === undefined ? '' : VARY_RECORD + entry.varyNames.join('\n');
    this.#redis.wdStore(this.#prefix, entry.key, entry.path, encodeEntry(entry), ttl, hash, record, ...entry.tags).catch((error: Error) => {
      if (error.message.includes('timed out')) this.#timedOut();
    });
  }

  /** Removes what the patterns match; resolves with how many URLs were removed (0 when Redis is unreachable). */
  async invalidate(patterns: readonly InvalidationPattern[]): Promise<number> {
    let removed = 0;
    for (const pattern of patterns) {
      try {
        removed += await this.#invalidateOne(pattern);
      } catch (error) {
        this.#log.warn(`Redis invalidation failed (${(error as Error).message}); Redis entries expire by their own TTL`);
      }
    }
    return removed;
  }

  async #invalidateOne(pattern: InvalidationPattern): Promise<number> {
    const p = this.#prefix;
    switch (pattern.kind) {
      case 'all':
        return this.#unlinkMatching(`${escapeGlob(p)}*`);
      case 'tag':
        return this.#redis.wdDeleteIndexed(`${p}t:${pattern.tag}`, p, '', '', '0');
      case 'path':
        return this.#redis.wdDeleteIndexed(`${p}p:${pattern.path}`, p, pattern.host ?? '', pattern.query ?? '', pattern.query === undefined ? '0' : '1');
      case 'prefix': {
        let removed = 0;
        for (const indexKey of await this.#scan(`${escapeGlob(`${p}p:${pattern.prefix}`)}*`)) {
          removed += await this.#redis.wdDeleteIndexed(indexKey, p, pattern.host ?? '', '', '0');
        }
        return removed;
      }
    }
  }

  /** SCAN (never KEYS: it does not block Redis) for keys matching a glob. */
  async #scan(match: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  }

  async #unlinkMatching(match: string): Promise<number> {
    const keys = await this.#scan(match);
    let removed = 0;
    for (let i = 0; i < keys.length; i += 500) removed += await this.#redis.unlink(...keys.slice(i, i + 500));
    return removed;
  }

  async close(): Promise<void> {
    // Closing is not an outage: nothing to log.
    this.#redis.removeAllListeners('error');
    this.#redis.removeAllListeners('close');
    this.#redis.on('error', () => undefined);
    this.#redis.disconnect();
  }
}

/** One connection attempt and PING, for `warpdrive check`: undefined when reachable, else why not. */
export async function probeRedis(url: string, timeoutMs: number): Promise<string | undefined> {
  const redis = new (ioredis().Redis)(url, { lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    redis.disconnect();
  }
}
