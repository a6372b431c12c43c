/**
 * ioredis and pg, loaded on first use: only a configuration with `redis_url` or
 * `[postgres]` pays for them. Loading both takes a few hundred milliseconds of
 * CPU on a small machine, which every proxy thread would otherwise spend at
 * startup, competing with the first health checks and requests.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type * as Pg from 'pg';

const require = createRequire(import.meta.url);

let ioredisModule: typeof IORedis | undefined;
let pgModule: typeof Pg | undefined;

/** The ioredis module. */
export function ioredis(): typeof IORedis {
  return (ioredisModule ??= require('ioredis') as typeof IORedis);
}

/** The pg module. */
export function pg(): typeof Pg {
  return (pgModule ??= require('pg') as typeof Pg);
}
