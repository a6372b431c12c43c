/**
 * Child processes of the bench: spawned (optionally pinned with taskset) in their
 * own process group, watched for a readiness line, and stopped by id, group
 * included, when the bench ends for any reason.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface SpawnSpec {
  /** Short name for messages ("nginx", "upstream"). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** A taskset CPU list ("0", "1", "2-3"), or undefined to run unpinned. */
  readonly cpus: string | undefined;
  /** The taskset executable; required when `cpus` is set. */
  readonly tasksetPath?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export class ManagedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly exited: Promise<number | null>;
  #output = '';
  #waiters: Array<() => void> = [];

  constructor(spec: SpawnSpec) {
    this.name = spec.name;
    const pinned = spec.cpus !== undefined && spec.tasksetPath !== undefined;
    // taskset execs the command in place, so the pid we get is the command's own.
    const command = pinned ? spec.tasksetPath! : spec.command;
    const args = pinned ? ['-c', spec.cpus!, spec.command, ...spec.args] : [...spec.args];
    this.child = spawn(command, args, {
      env: spec.env ?? process.env,
      cwd: spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stop() reaches the workers nginx forks too.
      detached: true,
    });
    const onData = (chunk: Buffer) => {
      // Keep the last 64 KiB: enough for any error message, bounded for long runs.
      this.#output = (this.#output + chunk.toString()).slice(-65_536);
      for (const wake of this.#waiters) wake();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this);
        resolve(code ?? (signal ? 128 : null));
        for (const wake of this.#waiters) wake();
      });
      this.child.once('error', (error) => {
        this.#output += `\n${spec.name}: could not start ${command}: ${error.message}\n`;
        running.delete(this);
        resolve(127);
        for (const wake of this.#waiters) wake();
      });
    });
    running.add(this);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null || !running.has(this);
  }

  output(): string {
    return this.#output;
  }

  /**
   * Resolves with the first match of `pattern` in the output; rejects when the
   * process exits first or `timeoutMs` passes, with the output in the message.
   */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms; its output:\n${this.#output}`));
      }, timeoutMs);
      const check = () => {
        const match = pattern.exec(this.#output);
        if (match) {
          finish();
          resolve(match);
        } else if (this.hasExited) {
          finish();
          reject(new Error(`${this.name} exited (code ${String(this.child.exitCode)}) before it was ready; its output:\n${this.#output}`));
        }
      };
      const finish = () => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
      };
      this.#waiters.push(check);
      check();
    });
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.hasExited || this.child.pid === undefined) return;
    signalGroup(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(this.child.pid!, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Every process the bench started and has not yet seen exit. */
const running = new Set<ManagedProcess>();

/** Stops everything still running; used on normal exit and on SIGINT/SIGTERM. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(1_000)));
}

/** Kills what is left synchronously (from an `exit` handler, which cannot wait). */
export function killAllNow(): void {
  for (const p of running) if (p.pid !== undefined) signalGroup(p.pid, 'SIGKILL');
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for configs that need a number up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs a command to completion and returns its exit code and output (bounded by `timeoutMs`).
 * `env`: its environment (default: the bench's own).
 */
export function runToCompletion(
  command: string,
  args: readonly string[],
  timeoutMs: number,
  cpus?: string,
  tasksetPath?: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const pinned = cpus !== undefined && tasksetPath !== undefined;
  const child = spawn(pinned ? tasksetPath : command, pinned ? ['-c', cpus, command, ...args] : [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + error.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
