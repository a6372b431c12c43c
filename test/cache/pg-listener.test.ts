/**
 * Invalidation by PostgreSQL LISTEN/NOTIFY against the real server: a trigger on
 * a real table, the listener's backend terminated (pg_terminate_backend), bad
 * payloads, and the bus that takes invalidations to every thread and to Redis.
 * Channel and table names are unique to the run.
 */
import { after, afterEach, describe, it } from 'node:test';
import pg from 'pg';
import assert from 'node:assert/strict';
import { CachedResponse } from '../../src/cache/cached-response.js';
import { parseInvalidation, type InvalidationPattern } from '../../src/cache/invalidation-pattern.js';
import { InvalidationBus } from '../../src/cache/invalidation-bus.js';
import { listenerApplicationName, notify, PgListener, probePostgres, quoteIdentifier } from '../../src/cache/pg-listener.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import { ResponseCache } from '../../src/cache/response-cache.js';
import { POSTGRES_URL, sql, uniqueName } from '../helpers/postgres.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis-server.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function cache(): ResponseCache {
  return new ResponseCache({ capacityBytes: 1024 * 1024, maxObjectBytes: 65536, ignoreQueryParams: { names: [], prefixes: [] }, lockTimeoutMs: 5000 });
}

function entry(path: string, tags: string[] = []): CachedResponse {
  const now = Date.now();
  return new CachedResponse({
    key: `http://a.com${path}`, host: 'a.com', path, query: '', varyNames: undefined, varyValues: undefined,
    status: 200, statusText: '', headers: [], body: Buffer.from(path), etag: undefined, lastModifiedMs: NaN, dateMs: now, tags,
    responseTimeMs: now, initialAgeMs: 0, staleAtMs: now + 600_000, swrUntilMs: now + 600_000, sieUntilMs: now + 600_000,
    revalidateAlways: false, omittedHeaders: [],
  });
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return performance.now() - started;
}

interface Listening {
  readonly listener: PgListener;
  readonly received: InvalidationPattern[][];
  readonly missed: string[];
}

function listen(channel: string, onInvalidate?: (patterns: InvalidationPattern[]) => void, onMissed?: (reason: string) => void): Listening {
  const received: InvalidationPattern[][] = [];
  const missed: string[] = [];
  const listener = new PgListener({
    url: POSTGRES_URL,
    channel,
    onInvalidate: (patterns) => {
      received.push(patterns);
      onInvalidate?.(patterns);
    },
    onMissed: (reason) => {
      missed.push(reason);
      onMissed?.(reason);
    },
  });
  cleanups.push(() => listener.close());
  return { listener, received, missed };
}

async function listenerPid(channel: string): Promise<number | undefined> {
  const result = await sql('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [listenerApplicationName(channel)]);
  return result.rows[0]?.pid as number | undefined;
}

describe('PostgreSQL invalidation', () => {
  it('a NOTIFY from a trigger on a real table invalidates within 100 ms', async () => {
    const channel = uniqueName('chan');
    const table = uniqueName('posts');
    await sql(`
      CREATE TABLE ${table} (id integer PRIMARY KEY, title text);
      INSERT INTO ${table} VALUES (1, 'one'), (2, 'two');
      CREATE FUNCTION ${table}_notify() RETURNS trigger AS $$
      BEGIN
        PERFORM pg_notify('${channel}', '/posts/' || NEW.id || ' tag:post-' || NEW.id);
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      CREATE TRIGGER ${table}_changed AFTER UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_notify();
    `);
    cleanups.push(() => sql(`DROP TABLE ${table}; DROP FUNCTION ${table}_notify();`));
    const memory = cache();
    memory.store(entry('/posts/1'));
    memory.store(entry('/posts/2'));
    memory.store(entry('/feed', ['post-1']));
    const { listener } = listen(channel, (patterns) => memory.invalidate(patterns, 'relayed'));
    await listener.listening();

    // The application's connection is open already, as a Rails process's is.
    const app = new pg.Client({ connectionString: POSTGRES_URL });
    await app.connect();
    cleanups.push(() => app.end());
    const started = performance.now();
    await app.query(`UPDATE ${table} SET title = 'changed' WHERE id = 1`);
    await until('entry invalidated', () => memory.memory.lookupKey('http://a.com/posts/1', []) === undefined);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 100, `invalidated after ${elapsed.toFixed(1)} ms`);
    assert.equal(memory.memory.lookupKey('http://a.com/feed', []), undefined, 'the tag in the same payload');
    assert.ok(memory.memory.lookupKey('http://a.com/posts/2', []), 'other rows are untouched');
  });

  it('the channel name is case-sensitive, as pg_notify() is', async () => {
    const channel = `${uniqueName('Case')}_Mixed`;
    const { listener, received } = listen(channel);
    await listener.listening();
    await notify(POSTGRES_URL, channel.toLowerCase(), '/nope');
    await notify(POSTGRES_URL, channel, '/yes');
    await until('notification received', () => received.length === 1);
    assert.deepEqual(received[0], parseInvalidation('/yes'));
    assert.equal(quoteIdentifier('a"b'), '"a""b"');
  });

  it('a payload that is not an invalidation is logged and ignored; the listener goes on', async () => {
    const channel = uniqueName('bad');
    const { listener, received } = listen(channel);
    await listener.listening();
    await notify(POSTGRES_URL, channel, 'posts/42');
    await notify(POSTGRES_URL, channel, '');
    await notify(POSTGRES_URL, channel, '/fine');
    await until('the valid one arrives', () => received.length === 1);
    assert.deepEqual(received[0], parseInvalidation('/fine'));
    assert.equal(listener.state, 'listening');
  });

  it('after pg_terminate_backend it reconnects, purges memory in every thread and its Redis namespace, and stale entries are gone', async () => {
    const channel = uniqueName('term');
    const prefix = uniquePrefix('pgterm');
    cleanups.push(() => deletePrefix(prefix));
    const redis = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, timeoutMs: 500 });
    cleanups.push(() => redis.close());
    await until('redis up', () => redis.usable);
    const main = cache();
    const worker = cache();
    const bus = new InvalidationBus(redis);
    bus.attachLocal(main);
    bus.addWorker(1, (patterns) => worker.invalidate(patterns, 'relayed'));
    const { listener, missed } = listen(
      channel,
      (patterns) => void bus.publish(patterns, 'notify'),
      () => void bus.publish([{ kind: 'all' }], 'missed'),
    );
    await listener.listening();
    main.store(entry('/a'));
    worker.store(entry('/a'));
    redis.store(entry('/a'));
    await until('stored in Redis', async () => (await redis.lookup('http://a.com/a', [])) !== undefined);

    const pid = await listenerPid(channel);
    assert.ok(pid !== undefined, 'the listener backend is visible');
    await sql('SELECT pg_terminate_backend($1)', [pid]);
    await until('seen as down', () => listener.state !== 'listening', 5000);
    await until('listening again', () => listener.state === 'listening', 10_000);
    assert.equal(missed.length, 1);
    await until('purged everywhere', async () => main.memory.entryCount === 0 && worker.memory.entryCount === 0 && (await redis.lookup('http://a.com/a', [])) === undefined);
    assert.notEqual(await listenerPid(channel), pid);

    // And it still works.
    worker.store(entry('/b'));
    await notify(POSTGRES_URL, channel, '/b');
    await until('new notifications reach the workers', () => worker.memory.entryCount === 0);
  });

  it('an unreachable server is retried with backoff, without throwing', async () => {
    const listener = new PgListener({ url: 'postgres://postgres@127.0.0.1:1/test', channel: uniqueName('down'), onInvalidate: () => undefined, onMissed: () => undefined });
    cleanups.push(() => listener.close());
    await until('seen as down', () => listener.state === 'down', 5000);
    assert.match((await probePostgres('postgres://postgres@127.0.0.1:1/test', 1000))!, /ECONNREFUSED/);
    assert.equal(await probePostgres(POSTGRES_URL, 5000), undefined);
  });
});

describe('InvalidationBus', () => {
  it('applies an invalidation once per thread, never back to where it came from, and once to Redis', async () => {
    const applied: string[] = [];
    const shared = {
      usable: true,
      lookup: async () => undefined,
      store: () => undefined,
      invalidate: async (patterns: readonly InvalidationPattern[]) => {
        applied.push(`redis:${patterns.length}`);
        return 0;
      },
    };
    const main = cache();
    const bus = new InvalidationBus(shared);
    bus.attachLocal(main);
    bus.addWorker(1, () => applied.push('worker 1'));
    bus.addWorker(2, () => applied.push('worker 2'));
    main.store(entry('/x'));
    await bus.publish(parseInvalidation('/x'), 1);
    assert.deepEqual(applied, ['worker 2', 'redis:1']);
    assert.equal(main.memory.entryCount, 0);
    applied.length = 0;
    // The main thread's own unsafe request: its memory is done already; the workers and Redis get it.
    main.invalidate(parseInvalidation('/y'), 'local');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(applied, ['worker 1', 'worker 2', 'redis:1']);
  });
});
