/**
 * `warpdrive restart NAME` / `POST /api/processes/NAME/restart`: restart one
 * supervised process, or every process of an upstream one at a time, each time
 * waiting until the new one is ready, so an upstream with several instances
 * never has none ready (a rolling restart).
 *
 * @module
 */
import type { SupervisorClient } from '../supervisor/client.js';
import type { SupervisorEvent } from '../supervisor/protocol.js';

export type RestartOutcome =
  | { readonly ok: true; readonly restarted: readonly string[] }
  | { readonly ok: false; readonly status: 404 | 409 | 504 | 500; readonly error: string; readonly restarted: readonly string[] };

/** Margin on top of a process's stop and start timeouts before giving up waiting for it. */
const WAIT_MARGIN_MS = 5_000;

/** Resolves with the first event of `unit` after a `started` one that is `ready` or `failed`, or undefined after `timeoutMs`. */
function nextStart(supervisor: SupervisorClient, unit: string, timeoutMs: number): Promise<SupervisorEvent | undefined> {
  return new Promise((resolve) => {
    let started = false;
    const finish = (event: SupervisorEvent | undefined): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve(event);
    };
    const unsubscribe = supervisor.on((event) => {
      if (!('unit' in event) || event.unit !== unit) return;
      if (event.type === 'started') started = true;
      else if (event.type === 'failed' || (started && event.type === 'ready')) finish(event);
    });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
  });
}

/**
 * Restarts `name`: a process (an upstream's, or an instance id such as `api#1`), or
 * every process of the upstream `name`, in order, one at a time.
 */
export async function restartProcesses(supervisor: SupervisorClient | undefined, name: string): Promise<RestartOutcome> {
  const units = supervisor?.units ?? [];
  const chosen = units.some((u) => u.name === name) ? units.filter((u) => u.name === name) : units.filter((u) => u.upstream === name);
  if (supervisor === undefined || chosen.length === 0) {
    const known = units.map((u) => u.name).join(', ');
    const excluded = supervisor?.excluded.some((u) => u.name === name || u.upstream === name) ?? false;
    return {
      ok: false,
      status: 404,
      restarted: [],
      error: excluded
        ? `${name} is not supervised by this warpdrive (left out by --only/--except); restart it where it runs`
        : `no supervised process named ${name}; processes: ${known === '' ? 'none' : known} (an upstream name restarts all of its processes, one at a time)`,
    };
  }
  const restarted: string[] = [];
  for (const unit of chosen) {
    const waiting = nextStart(supervisor, unit.name, unit.stopTimeoutMs + unit.startTimeoutMs + WAIT_MARGIN_MS);
    supervisor.restart(unit.name);
    const event = await waiting;
    if (event === undefined) {
      return { ok: false, status: 504, restarted, error: `${unit.name} was not ready again within ${(unit.stopTimeoutMs + unit.startTimeoutMs + WAIT_MARGIN_MS) / 1000} s; the rest were not restarted` };
    }
    if (event.type === 'failed') {
      return { ok: false, status: 500, restarted, error: `${unit.name} failed to start again: ${event.reason}; the rest were not restarted` };
    }
    restarted.push(unit.name);
  }
  return { ok: true, restarted };
}
