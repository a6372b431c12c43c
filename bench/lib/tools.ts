/**
 * Finds the external tools the bench drives, and says how to install the missing
 * ones. The bench never installs anything itself.
 *
 * @module
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type ToolName = 'wrk' | 'nginx' | 'haproxy' | 'varnishd' | 'taskset' | 'autocannon' | 'openssl' | 'cc';

export interface ToolStatus {
  readonly name: ToolName;
  /** Absolute path of the executable (or of the package's CLI script), when found. */
  readonly path: string | undefined;
  /** One command that installs it, for the message when it is missing. */
  readonly installHint: string;
  /** What the bench loses without it. */
  readonly neededFor: string;
}

const INSTALL_HINTS: Record<ToolName, { installHint: string; neededFor: string }> = {
  wrk: { installHint: 'sudo apt-get install wrk', neededFor: 'every throughput scenario (the load generator)' },
  nginx: { installHint: 'sudo apt-get install nginx   (the bench runs its own nginx process; the system service may stay disabled)', neededFor: 'the nginx proxy, the reference every ratio is computed against' },
  haproxy: { installHint: 'sudo apt-get install haproxy', neededFor: 'the HAProxy proxy' },
  varnishd: { installHint: 'sudo apt-get install varnish   (the bench runs its own varnishd; the system service may stay disabled)', neededFor: 'Varnish in the cache scenarios' },
  taskset: { installHint: 'sudo apt-get install util-linux', neededFor: 'CPU pinning (runs unpinned without it)' },
  autocannon: { installHint: 'npm install -D autocannon', neededFor: 'latency at fixed request rates' },
  openssl: { installHint: 'sudo apt-get install openssl', neededFor: 'the HTTPS scenarios (it makes the certificate every proxy serves)' },
  cc: { installHint: 'sudo apt-get install gcc', neededFor: 'https-new-conn (it builds the small library that keeps wrk from resuming TLS sessions)' },
};

/**
 * Debian installs nginx and haproxy into /usr/sbin, which is not on every user's
 * PATH; look there too so a normal user finds them.
 */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks an executable up on PATH plus the sbin directories. */
export function findExecutable(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...envPath.split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The autocannon CLI script from this project's node_modules (a dev dependency). */
function findAutocannon(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('autocannon/package.json');
    const cli = path.join(path.dirname(pkg), 'autocannon.js');
    return existsSync(cli) ? cli : undefined;
  } catch {
    return undefined;
  }
}

export function checkTool(name: ToolName): ToolStatus {
  const found = name === 'autocannon' ? findAutocannon() : findExecutable(name);
  return { name, path: found, ...INSTALL_HINTS[name] };
}

/** A message listing each missing tool with its install command. */
export function describeMissing(missing: readonly ToolStatus[]): string {
  return missing.map((t) => `  - ${t.name} is missing (needed for ${t.neededFor}). Install: ${t.installHint}`).join('\n');
}
