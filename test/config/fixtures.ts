/**
 * Locates test/fixtures/config from the compiled test file, whichever out dir
 * (dist/ or .build/<name>/) it was compiled into: fixtures are not copied by tsc.
 */

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/config/index.js';
import { fileURLToPath } from 'node:url';

function findFixtureDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    const candidate = path.join(dir, 'test', 'fixtures', 'config');
    if (existsSync(path.join(candidate, 'seed-complete.toml'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('test/fixtures/config not found above the compiled test file');
}

export const fixtureDir = findFixtureDir();

export function fixture(name: string): string {
  return path.join(fixtureDir, name);
}

/**
 * The seed's complete example without the keys this version cannot act on yet
 * (src/config/unavailable.ts) or that need more than a test machine has: the whole
 * [tls] table and https_port (ordering certificates);
 * and without `x_sendfile_enabled = true`, which needs roots the seed does not give.
 */
export function seedWithoutUnavailable(): string {
  const dropTables = new Set(['[tls]']);
  const dropKeys = /^(https_port|x_sendfile_enabled)\s*=/;
  const kept: string[] = [];
  let skipping = false;
  for (const line of readFileSync(fixture('seed-complete.toml'), 'utf8').split('\n')) {
    if (line.startsWith('[')) skipping = dropTables.has(line.trim());
    if (!skipping && !dropKeys.test(line)) kept.push(line);
  }
  return kept.join('\n');
}

let seedTodayPath: string | undefined;

/** `seedWithoutUnavailable()` written to a temporary file (once per test process), for CLI and env tests. */
export function seedTodayFile(): string {
  if (seedTodayPath === undefined) {
    seedTodayPath = path.join(mkdtempSync(path.join(tmpdir(), 'wd-seed-')), 'seed-today.toml');
    writeFileSync(seedTodayPath, seedWithoutUnavailable());
  }
  return seedTodayPath;
}

/** A minimal valid document to build bad variants from: one upstream "app", one route. */
export const validBase = `
[upstreams.app]
host = "127.0.0.1"
port = 3000

[[routes]]
path_prefix = "/"
upstream = "app"
`;

/** Runs `load`, which must throw a ConfigError, and returns that error for inspection. */
export function catchConfigError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}
