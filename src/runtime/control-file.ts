/**
 * How `warpdrive reload` finds a warpdrive started from another shell, and
 * learns how the reload went: the running process keeps a small JSON file (its
 * pid, its config, the outcome of its last reload) at a path derived from its
 * config file's real path, so that the same `--config` names the same process.
 *
 *   $XDG_RUNTIME_DIR/warpdrive/<config name>-<hash>.json
 *   (else <OS temp dir>/warpdrive-<uid>/...: one directory per user, so that another
 *   user's directory in a shared /tmp is neither in the way nor trusted)
 *
 * `warpdrive reload` checks the file like `check` does, reads the pid, sends
 * SIGHUP, and waits for the reload counter to move. The file is written
 * atomically (temp file + rename) and removed on a clean stop. A file left by a
 * process that no longer exists is recognised (its pid is gone) and ignored.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ControlState {
  readonly pid: number;
  /** The config file as given at start. */
  readonly config: string;
  readonly startedAt: string;
  /** Where it listens (the port it got when http_port = 0): `warpdrive purge` talks to it there. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Reloads attempted so far (SIGHUP or `warpdrive reload`). */
  readonly reloads: number;
  readonly lastReload?: { readonly ok: boolean; readonly at: string; readonly summary?: string; readonly error?: string; readonly code?: string };
}

/** The control file for `configFile` (which must exist: its real path names the process). */
export function controlFilePath(configFile: string, env: NodeJS.ProcessEnv = process.env): string {
  let real: string;
  try {
    real = realpathSync(configFile);
  } catch {
    real = path.resolve(configFile);
  }
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 16);
  const dir = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'warpdrive') : path.join(tmpdir(), `warpdrive-${process.getuid?.() ?? 'user'}`);
  return path.join(dir, `${path.basename(real, path.extname(real))}-${hash}.json`);
}

export function writeControlState(file: string, state: ControlState): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

/** The state of a running warpdrive, or undefined when there is none (no file, or its process is gone). */
export function readControlState(file: string): ControlState | undefined {
  let state: ControlState;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as ControlState;
  } catch {
    return undefined;
  }
  return typeof state.pid === 'number' && isAlive(state.pid) ? state : undefined;
}

/** Removes the file on a clean stop; a file that cannot be removed (never written, not ours) must not turn the stop into a crash. */
export function removeControlFile(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // Left behind: its pid is gone, so readControlState ignores it.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
