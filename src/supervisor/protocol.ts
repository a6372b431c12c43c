/**
 * The message protocol between the main thread (SupervisorClient) and the
 * supervisor worker thread.
 *
 * Every message is a plain object with a `type` discriminant, so it survives
 * structured clone unchanged: no class instances, no functions, no Maps. Errors
 * cross as `{ code, message }` because structured clone drops an Error
 * subclass, its `name` and custom fields such as `code`.
 *
 * @module
 */

import type { InstanceAddress } from '../config/types.js';

/** An error as it crosses the thread boundary. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

/** How a unit's readiness is probed (the upstream's health check, when it has one). */
export interface ProbeHealth {
  readonly path: string;
  readonly timeoutMs: number;
  readonly expectStatusMin: number;
  readonly expectStatusMax: number;
}

/** One instance a unit serves: readiness probes its address. */
export interface UnitInstance {
  readonly id: string;
  readonly address: InstanceAddress;
}

/**
 * One supervised process as the worker needs it: a flattened, clone-safe view of
 * an upstream-level or instance-level ProcessSpec with what it serves.
 */
export interface UnitSpec {
  /** Upstream name (upstream-level process) or instance id `name#i` (instance-level). */
  readonly name: string;
  readonly upstream: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Only the configured variables; the worker merges them over its own environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | undefined;
  readonly stopTimeoutMs: number;
  readonly startTimeoutMs: number;
  readonly maxMemoryMb: number | undefined;
  readonly instances: readonly UnitInstance[];
  readonly health: ProbeHealth | undefined;
  /** Units (of this start) that must be ready before this one starts. */
  readonly dependsOn: readonly string[];
}

/** Crash handling: backoff between restarts and when to give up. */
export interface RestartPolicy {
  /** Delay before the first restart; doubles per consecutive crash. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A process that stays up this long after becoming ready resets the backoff. */
  readonly stableAfterMs: number;
  /** This many crashes within `crashWindowMs` mark the unit failed (no more restarts). */
  readonly maxCrashes: number;
  readonly crashWindowMs: number;
}

export interface WorkerOptions {
  readonly restart: RestartPolicy;
  /** Interval of pidusage sampling (and max_memory_mb checks); 0 disables stats. */
  readonly statsIntervalMs: number;
  /** Interval between readiness probes while a unit starts. */
  readonly probeIntervalMs: number;
  /** Write child output lines to warpdrive's stderr (from the worker thread). */
  readonly logToStderr: boolean;
  /** Also post every child output line to the main thread as a `log` event. */
  readonly forwardLogs: boolean;
  /** Lines kept per unit for `failed` reports. */
  readonly lastLinesKept: number;
}

// ---------------------------------------------------------------- commands

export type SupervisorCommand =
  | {
      readonly type: 'start';
      /** In start order (dependencies first). */
      readonly units: readonly UnitSpec[];
      readonly options: WorkerOptions;
      /**
       * Process groups left by a previous worker that died: their guards kill them,
       * and the new worker waits until they are gone before spawning (ports free).
       */
      readonly awaitGoneGroups: readonly number[];
    }
  /** Stop every unit, dependents first; the worker answers with `stopped`. */
  | { readonly type: 'stop' }
  /** A reload: these units from now on (stop the missing, start the new, restart the changed). */
  | { readonly type: 'update'; readonly units: readonly UnitSpec[] }
  /** Graceful restart of one unit (stop, then start again), not counted as a crash. */
  | { readonly type: 'restart'; readonly unit: string }
  /** Fault injection for tests: the worker throws an uncaught error. */
  | { readonly type: 'crash'; readonly message: string };

// ------------------------------------------------------------------ events

export type StreamName = 'stdout' | 'stderr';

export type SupervisorEvent =
  | { readonly type: 'started'; readonly unit: string; readonly pid: number }
  | { readonly type: 'ready'; readonly unit: string; readonly instanceIds: readonly string[] }
  /** The unit is about to be signalled: take its instances out of the pool first. */
  | { readonly type: 'stopping'; readonly unit: string; readonly reason: string }
  | { readonly type: 'exited'; readonly unit: string; readonly pid: number; readonly code: number | null; readonly signal: string | null }
  | { readonly type: 'restarting'; readonly unit: string; readonly delayMs: number; readonly attempt: number; readonly reason: string }
  | { readonly type: 'failed'; readonly unit: string; readonly reason: string; readonly lastLines: readonly string[] }
  | { readonly type: 'stats'; readonly unit: string; readonly pid: number; readonly cpu: number; readonly rssBytes: number; readonly processes: number }
  | { readonly type: 'log'; readonly unit: string; readonly stream: StreamName; readonly line: string }
  /** Every unit of the start is down (answer to `stop`). */
  | { readonly type: 'stopped' }
  /** A problem of the worker itself that is not tied to one unit. */
  | { readonly type: 'error'; readonly error: WireError }
  // The two below are emitted by the client, not the worker: the worker's own lifecycle.
  | { readonly type: 'workerLost'; readonly error: WireError; readonly willRestart: boolean }
  | { readonly type: 'workerRestarted'; readonly attempt: number };

export type SupervisorEventType = SupervisorEvent['type'];

/** Turns anything thrown into a clone-safe error. */
export function toWireError(error: unknown, fallbackCode = 'WD_ERR_SUPERVISOR'): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : fallbackCode, message: error.message };
  }
  return { code: fallbackCode, message: String(error) };
}
