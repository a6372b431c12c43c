/**
 * Runs the real warpdrive CLI as a child process, the way a user does.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './upstream.js';

/**
 * The compiled CLI entry beside this compiled helper (`<outDir>/src/cli/main.js`), so that
 * a build into any outDir (dist/, or .build/NAME/ while developing) tests its own code.
 * bin/warpdrive.js is a one-line wrapper around the same file in dist/.
 */
export const warpdriveBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface RunningWarpdrive {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Everything written to stderr and stdout so far. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves when the process exits on its own. */
  exited: Promise<number | null>;
}

export interface RunOptions {
  env?: Record<string, string>;
  args?: string[];
  /** How long to wait for the listening line. */
  startTimeoutMs?: number;
  /** The working directory to start warpdrive in (default: the test runner's). */
  cwd?: string;
}

/** Writes `toml` to a temporary file and returns its path. */
export function writeConfig(toml: string, name = 'warpdrive.toml'): string {
  const file = path.join(tempDir('wd-conf-'), name);
  writeFileSync(file, toml);
  return file;
}

/**
 * The smallest useful config: warpdrive on 127.0.0.1, any free port, sending every
 * request to one upstream `app` (`upstreamToml` is its `host`/`port` or `socket` lines).
 */
export function singleUpstreamConfig(upstreamToml: string, extraUpstreamToml = ''): string {
  return writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.app]
${upstreamToml}
${extraUpstreamToml}

[[routes]]
path_prefix = "/"
upstream = "app"
`);
}

/**
 * warpdrive on 127.0.0.1 (any free port) with `threads` proxy threads and the access
 * log on, sending every request to one upstream `app` (`upstreamToml`: its keys and
 * subtables); `extra` is appended (more sections).
 */
export function loggingConfig(threads: number, upstreamToml: string, extra = ''): string {
  return writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
worker_threads = ${threads}

[middleware]
log_requests = true

[upstreams.app]
${upstreamToml}

[[routes]]
path_prefix = "/"
upstream = "app"
${extra}`);
}

/** Starts warpdrive with `--config FILE` (or none in simple mode) and waits until it listens. */
export async function startWarpdrive(configFile: string | undefined, options: RunOptions = {}): Promise<RunningWarpdrive> {
  const args = [warpdriveBin, ...(configFile ? ['--config', configFile] : []), ...(options.args ?? [])];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, WARPDRIVE_LOG_LEVEL: 'info', ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warpdrive did not listen in time; output:\n${output}`)), options.startTimeoutMs ?? 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening on http:\/\/\S+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`warpdrive exited with ${code} before listening; output:\n${output}`));
    });
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Resolves once warpdrive's output (stdout and stderr) matches `pattern` (at least
 * `times` times): for events it logs (a process ready, a drain started, access-log
 * lines). The caller's test timeout bounds the wait.
 */
export function outputMatching(wd: RunningWarpdrive, pattern: RegExp, times = 1): Promise<void> {
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  return new Promise((resolve) => {
    const check = (): void => {
      if (times === 1 ? !pattern.test(wd.output()) : [...wd.output().matchAll(global)].length < times) return;
      wd.child.stdout!.off('data', check);
      wd.child.stderr!.off('data', check);
      resolve();
    };
    wd.child.stdout!.on('data', check);
    wd.child.stderr!.on('data', check);
    check();
  });
}

/** Runs the CLI to completion (e.g. `check`) and returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [warpdriveBin, ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'close' rather than 'exit': it fires after stdout and stderr are drained.
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

/**
 * Environment entries that blank the runner's own WARPDRIVE_* variables (and UWS_USE_FALLBACK):
 * a developer's exported settings must not leak into what a CLI test checks.
 */
export const cleanEnv: Record<string, string> = Object.fromEntries(
  Object.keys(process.env)
    .filter((name) => name.startsWith('WARPDRIVE_') || name === 'UWS_USE_FALLBACK')
    .map((name) => [name, '']),
);

/** The repository's root (where package.json names warpdrive), found from the compiled helper in any outDir. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      if ((JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'warpdrive') return dir;
    } catch {
      // no package.json here: keep climbing
    }
    dir = path.dirname(dir);
  }
  throw new Error('the warpdrive repository root was not found above the compiled test helper');
}
