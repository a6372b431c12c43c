/**
 * The hit ratio of warpdrive's cache with one proxy thread and with two, for the
 * same `size_bytes`, and with two threads and Redis: what splitting the memory
 * budget between threads costs, and what the shared tier gives back.
 *
 * Workload: `--urls` distinct cacheable 1 KiB URLs (the bench upstream's
 * /cache/*), requested `--requests` times in a Zipf-like popularity (the i-th
 * most popular URL weighs 1/i), over 32 keep-alive connections, which the
 * kernel spreads over the proxy threads. The hit ratio is 1 - (requests the
 * upstream saw) / (requests sent).
 *
 * Run: `npm run build && node dist/bench/cache-hit-ratio.js [--urls 2000] [--requests 20000] [--size-bytes 4194304] [--redis redis://127.0.0.1:6379/0]`
 * A bounded run (a few tens of seconds); the figures go in docs/cache.md.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Pool, request } from 'undici';
import { benchDistDir } from './lib/proxies.js';

const { values } = parseArgs({
  options: {
    urls: { type: 'string', default: '2000' },
    requests: { type: 'string', default: '20000' },
    'size-bytes': { type: 'string', default: String(4 * 1024 * 1024) },
    redis: { type: 'string' },
  },
});
const URLS = Number(values.urls);
const REQUESTS = Number(values.requests);
const SIZE_BYTES = Number(values['size-bytes']);

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within 15 s:\n${output}`)), 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
}

/** Zipf-like sampler: index i (0-based) with weight 1/(i+1), from a precomputed CDF. */
function zipf(n: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1);
  // A fixed seed: every configuration gets the same request sequence.
  let seed = 12345;
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const target = (seed / 2 ** 31) * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

async function measure(label: string, threads: number, redisUrl: string | undefined, upstreamPort: number): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wd-hit-ratio-'));
  const prefix = `wdbench:hitratio:${randomBytes(4).toString('hex')}:`;
  const file = path.join(dir, 'warpdrive.toml');
  writeFileSync(
    file,
    `[server]\nhttp_port = 0\nbind_address = "127.0.0.1"\nworker_threads = ${threads}\n` +
      `[upstreams.app]\nhost = "127.0.0.1"\nport = ${upstreamPort}\n[[routes]]\npath_prefix = "/"\nupstream = "app"\n` +
      `[cache]\nsize_bytes = ${SIZE_BYTES}\n${redisUrl === undefined ? '' : `redis_url = "${redisUrl}"\nredis_key_prefix = "${prefix}"\nredis_timeout_secs = 0.5\n`}`,
  );
  const main = path.join(path.dirname(benchDistDir()), 'src', 'cli', 'main.js');
  const wd = spawn(process.execPath, [main, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WARPDRIVE_LOG_LEVEL: 'info' } });
  try {
    const port = Number((await waitForLine(wd, /listening on http:\/\/\S+:(\d+)/))[1]);
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
    const count = async (): Promise<number> => Number(await (await request(`http://127.0.0.1:${upstreamPort}/cache-count`)).body.text());
    const before = await count();
    const next = zipf(URLS);
    const run = `${Date.now()}`;
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < REQUESTS) {
        sent++;
        const response = await pool.request({ path: `/cache/r${run}-${next()}`, method: 'GET' });
        await response.body.text();
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const fetched = (await count()) - before;
    await pool.close();
    return `| ${label} | ${threads} | ${redisUrl === undefined ? 'no' : 'yes'} | ${REQUESTS} | ${fetched} | ${((1 - fetched / REQUESTS) * 100).toFixed(1)} % |`;
  } finally {
    wd.kill('SIGTERM');
    await new Promise((resolve) => wd.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
    if (redisUrl !== undefined) {
      const redis = new Redis(redisUrl);
      let cursor = '0';
      do {
        const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = nextCursor;
      } while (cursor !== '0');
      redis.disconnect();
    }
  }
}

const upstream = spawn(process.execPath, [path.join(benchDistDir(), 'upstream-server.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
try {
  const ports = JSON.parse((await waitForLine(upstream, /UPSTREAM_READY (\{.*\})/))[1]!) as { ports: number[] };
  const port = ports.ports[0]!;
  const rows = [
    await measure('one thread, whole budget', 1, undefined, port),
    await measure('two threads, half each', 2, undefined, port),
    ...(values.redis === undefined ? [] : [await measure('two threads + Redis', 2, values.redis, port)]),
  ];
  process.stdout.write(
    `${URLS} URLs of 1 KiB, Zipf-like popularity, size_bytes ${SIZE_BYTES}, 32 keep-alive connections\n\n` +
      '| configuration | threads | Redis | requests | reached the upstream | hit ratio |\n|---|---|---|---|---|---|\n' +
      `${rows.join('\n')}\n`,
  );
} finally {
  upstream.kill('SIGTERM');
}
