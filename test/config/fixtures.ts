/**
 * Locates test/fixtures/config from the compiled test file, whichever out dir
 * (dist/ or .build/<name>/) it was compiled into: fixtures are not copied by tsc.
 */

import { existsSync } from 'node:fs';
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
