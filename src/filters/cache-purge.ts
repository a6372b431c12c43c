/**
 * The cache's admin endpoint: `POST /.warpdrive/purge` with `X-Admin-Token` and
 * invalidation patterns in the body (the grammar of NOTIFY payloads:
 * `/posts/42`, `/posts/*`, `tag:post-42`, `*`...).
 *
 * It exists when the cache is on and an admin token is set, and is answered
 * before routing, so no application route can shadow it. The patterns are
 * applied to this proxy thread's memory at once, relayed to the other threads
 * and to Redis; with `[postgres]` they are also sent as a NOTIFY, so every other
 * warpdrive node listening on the channel purges too.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { PostgresSpec } from '../config/types.js';
import { formatInvalidation, InvalidationSyntaxError, parseInvalidation } from '../cache/invalidation-pattern.js';
import { notify } from '../cache/pg-listener.js';
import type { ResponseCache } from '../cache/response-cache.js';
import type { Exchange } from '../pipeline/exchange.js';

export const PURGE_PATH = '/.warpdrive/purge';

/** The largest body the endpoint reads (a NOTIFY payload is at most 8000 bytes). */
const MAX_BODY_BYTES = 8000;

const json = ['content-type', 'application/json'];
const text = ['content-type', 'text/plain; charset=utf-8'];

export class PurgeEndpoint {
  readonly path = PURGE_PATH;
  readonly #cache: ResponseCache;
  readonly #token: Buffer;
  readonly #postgres: PostgresSpec | undefined;

  constructor(cache: ResponseCache, adminToken: string, postgres: PostgresSpec | undefined) {
    this.#cache = cache;
    this.#token = Buffer.from(adminToken);
    this.#postgres = postgres;
  }

  /** Answers `x` (whatever its method or credentials). */
  handle(x: Exchange): void {
    if (x.method !== 'POST') return x.respond(405, [...text, 'allow', 'POST'], 'POST invalidation patterns to this URL\n');
    const given = x.adminToken === undefined ? undefined : Buffer.from(x.adminToken);
    if (given === undefined || given.length !== this.#token.length || !timingSafeEqual(given, this.#token)) {
      return x.respond(401, text, 'Unauthorized\n');
    }
    void this.#purge(x);
  }

  async #purge(x: Exchange): Promise<void> {
    let payload = '';
    if (x.body !== undefined) {
      const chunks: Buffer[] = [];
      let length = 0;
      try {
        for await (const chunk of x.body.chunks()) {
          length += chunk.length;
          if (length > MAX_BODY_BYTES) return x.respond(413, text, `at most ${MAX_BODY_BYTES} bytes of patterns\n`);
          chunks.push(chunk);
        }
      } catch {
        return; // the client went away
      }
      payload = Buffer.concat(chunks).toString();
    }
    let patterns;
    try {
      patterns = parseInvalidation(payload);
    } catch (error) {
      if (!(error instanceof InvalidationSyntaxError)) throw error;
      return x.respond(400, text, `${error.message}\n`);
    }
    const memory = this.#cache.invalidate(patterns, 'local');
    let notified: boolean | string = false;
    if (this.#postgres !== undefined) {
      try {
        await notify(this.#postgres.url, this.#postgres.channel, patterns.map(formatInvalidation).join(' '));
        notified = true;
      } catch (error) {
        notified = (error as Error).message;
      }
    }
    const answer = {
      purged: patterns.map(formatInvalidation),
      // This thread's count: the other threads and Redis apply it in the background.
      memory,
      otherThreadsAndRedis: 'relayed',
      notify: this.#postgres === undefined ? 'no [postgres]' : notified === true ? `sent on "${this.#postgres.channel}"` : `failed: ${notified}`,
    };
    x.respond(notified === true || this.#postgres === undefined ? 200 : 502, json, `${JSON.stringify(answer)}\n`);
  }
}
