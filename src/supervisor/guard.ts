/**
 * Spawning a unit so that it cannot outlive warpdrive, even when warpdrive is
 * killed with SIGKILL and runs no cleanup code at all.
 *
 * Why a guard, and why this one:
 * - Node cannot set prctl(PR_SET_PDEATHSIG) on a child, and that would only
 *   reach the direct child anyway, not the grandchildren a shell or puma forks.
 * - A single reaper process told about groups after each spawn leaves a window
 *   (spawned, not yet reported) in which a SIGKILL orphans the child.
 * - So each unit is started through `/bin/sh` running the script below, with a
 *   watch pipe on fd 3 whose other end only warpdrive holds (libuv opens it
 *   close-on-exec, so no sibling inherits it). The shell forks a tiny watcher
 *   that blocks reading fd 3, then `exec`s the real command, keeping the pid.
 *   The pipe exists before the command does, so there is no window: whenever
 *   warpdrive's process dies (SIGKILL, crash, OOM), the kernel closes its end,
 *   the watcher reads EOF, sends SIGTERM to the whole process group, waits up to
 *   the unit's stop timeout for the command to go, then SIGKILLs the group
 *   (itself included).
 * - `detached: true` makes the shell (then the command, same pid) the leader of
 *   a new session and process group; the watcher and every grandchild inherit
 *   that group, so one `kill(-pgid)` reaches all of them.
 * - The watcher is double-forked (a subshell that exits at once), so the
 *   command does not find an unexpected child of its own; it stays in the group.
 * - The command is exec'd in the foreground, so it keeps default signal
 *   dispositions (an async list in sh would ignore SIGINT/SIGQUIT), closes
 *   fd 3, and Node sees its real exit code and signal.
 * - The watcher ignores SIGTERM, so a graceful stop's group SIGTERM leaves it
 *   watching: if warpdrive is SIGKILLed in the middle of a stop, the watcher
 *   still finishes the job.
 *
 * The pipe belongs to the thread that spawned the unit: when the supervisor
 * worker thread dies, its handles close and the same watchers tear the fleet
 * down (see client.ts for what happens next).
 *
 * @module
 */

import { spawn, type ChildProcess } from 'node:child_process';

/**
 * $1 = stop grace in tenths of a second, $2... = command and arguments.
 * `$$` inside the subshells is still the outer shell's pid, which `exec` hands to
 * the command; the wait loop ends early once that pid is gone or a zombie.
 */
const guardScript = `
grace=$1; shift
trap '' TERM INT HUP
(
  (
    read -r _ <&3
    kill -TERM 0 2>/dev/null
    i=0
    while [ "$i" -lt "$grace" ]; do
      case "$(cat /proc/$$/stat 2>/dev/null)" in
        "" | *") Z "*) break ;;
      esac
      sleep 0.1
      i=$((i + 1))
    done
    kill -KILL 0
  ) &
)
trap - TERM INT HUP
exec "$@" 3<&-
`;

export interface GuardedSpawnOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** The full environment of the child (already merged). */
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string | undefined;
  /** How long the watcher lets the group shut down on SIGTERM after warpdrive died. */
  readonly stopTimeoutMs: number;
}

/** Exit codes of the guard shell when the command could not be executed at all. */
export const commandNotFoundCode = 127;
export const commandNotExecutableCode = 126;

/**
 * Spawns `command` behind the guard. stdin is /dev/null, stdout and stderr are
 * pipes, fd 3 is the watch pipe (never written; only its closing matters).
 */
export function spawnGuarded(options: GuardedSpawnOptions): ChildProcess {
  const graceTenths = Math.max(1, Math.ceil(options.stopTimeoutMs / 100));
  return spawn('/bin/sh', ['-c', guardScript, 'warpdrive-guard', String(graceTenths), options.command, ...options.args], {
    detached: true,
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
}
