/**
 * Process groups on Linux: who is in one (from /proc), signalling one, and
 * waiting until one is empty. Every unit is the leader of its own group (see
 * guard.ts), so its pid is its group id.
 *
 * @module
 */

import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  readonly pid: number;
  readonly pgid: number;
  /** One-letter state: R, S, D, Z (zombie), ... */
  readonly state: string;
}

/** Parses /proc/PID/stat; the command name may contain spaces and parentheses, so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number.parseInt(text, 10);
  const fields = text.slice(close + 2).split(' ');
  // After the name: state, ppid, pgrp, ...
  const state = fields[0];
  const pgid = Number(fields[2]);
  if (!Number.isInteger(pid) || !state || !Number.isInteger(pgid)) return undefined;
  return { pid, pgid, state };
}

/** Whether /proc is there to look at (Linux); elsewhere only group leaders are known. */
export const hasProcFs = (() => {
  try {
    readdirSync('/proc/self');
    return true;
  } catch {
    return false;
  }
})();

/**
 * Live (non-zombie) members of the given groups, by group id, from one pass over
 * /proc. A process that exits during the scan is simply skipped.
 */
export function groupMembers(pgids: ReadonlySet<number>): Map<number, number[]> {
  const members = new Map<number, number[]>();
  if (!hasProcFs || pgids.size === 0) return members;
  for (const entry of readdirSync('/proc')) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue; // only numeric entries are processes
    let stat: ProcStat | undefined;
    try {
      stat = parseProcStat(readFileSync(`/proc/${entry}/stat`, 'latin1'));
    } catch {
      continue;
    }
    if (!stat || stat.state === 'Z' || !pgids.has(stat.pgid)) continue;
    const list = members.get(stat.pgid);
    if (list) list.push(stat.pid);
    else members.set(stat.pgid, [stat.pid]);
  }
  return members;
}

/** Whether the group still has a live member. */
export function isGroupAlive(pgid: number): boolean {
  if (hasProcFs) return (groupMembers(new Set([pgid])).get(pgid)?.length ?? 0) > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to every process of the group; false when the group is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Resolves true once none of the groups has a live member, or false after
 * `timeoutMs`. Polls, because nothing notifies us about processes that are not
 * our children (grandchildren, the guard's watcher).
 */
export async function waitGroupsGone(pgids: readonly number[], timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const wanted = new Set(pgids);
  for (;;) {
    const alive = groupMembers(wanted);
    if (!hasProcFs) {
      for (const pgid of wanted) if (isGroupAlive(pgid)) alive.set(pgid, [pgid]);
    }
    if (alive.size === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
