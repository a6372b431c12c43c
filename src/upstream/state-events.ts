/**
 * Changes of an instance's state that operators want in the log: passive
 * ejection (ejected, half-open, restored) and process readiness.
 *
 * With one proxy thread each change is logged where it happens. With several,
 * every thread holds its own copy of each instance: the supervisor's readiness
 * events reach all of them, and each thread's circuit breaker judges its own
 * requests, so logging in place would print one line per thread for what an
 * operator sees as one event. Proxy workers therefore report to the main thread
 * (threads/proxy-worker.ts sets the reporter), which logs once
 * (`InstanceStateLog`): readiness as the main thread sees it, an ejection when the
 * first thread ejects the instance, the restoration when the last one restores it.
 *
 * @module
 */
import { createLogger } from '../log.js';

const log = createLogger('upstream');

export type InstanceStateKind = 'ejected' | 'half_open' | 'restored' | 'process_ready' | 'process_not_ready' | 'process_gone';

export interface InstanceStateEvent {
  readonly instanceId: string;
  /** `127.0.0.1:3000` or `unix:/path`. */
  readonly address: string;
  readonly kind: InstanceStateKind;
  readonly reason: string;
}

/** The log line of one event, as a single thread writes it. */
export function logInstanceState(event: InstanceStateEvent, suffix = ''): void {
  const subject = `${event.instanceId} (${event.address})`;
  switch (event.kind) {
    case 'ejected':
      log.warn(`${subject} ejected: ${event.reason}${suffix}`);
      return;
    case 'half_open':
      log.info(`${subject} half-open: ${event.reason}${suffix}`);
      return;
    case 'restored':
      log.info(`${subject} restored: ${event.reason}${suffix}`);
      return;
    case 'process_ready':
      log.info(`${subject} process ready`);
      return;
    case 'process_not_ready':
      log.info(`${subject} process not ready`);
      return;
    case 'process_gone':
      log.warn(`${subject} process gone: ${event.reason}`);
      return;
  }
}

let reporter: (event: InstanceStateEvent) => void = (event) => logInstanceState(event);

/** Where this thread's instances report (default: the log, directly); returns the reporter it replaces. */
export function setInstanceStateReporter(report: (event: InstanceStateEvent) => void): (event: InstanceStateEvent) => void {
  const previous = reporter;
  reporter = report;
  return previous;
}

export function reportInstanceState(event: InstanceStateEvent): void {
  reporter(event);
}

/**
 * Main thread with proxy workers: one log line per change of the fleet-wide state.
 * `thread` 0 is the main thread. Readiness is the same on every thread (it comes
 * from the supervisor), so only the main thread's copy is logged.
 */
export class InstanceStateLog {
  /** Instance id -> threads whose breaker currently keeps it out (open or half-open). */
  readonly #ejectedBy = new Map<string, Set<number>>();

  report(thread: number, event: InstanceStateEvent): void {
    switch (event.kind) {
      case 'process_ready':
      case 'process_not_ready':
      case 'process_gone':
        if (thread === 0) logInstanceState(event);
        return;
      case 'ejected': {
        const threads = this.#threads(event.instanceId);
        const first = threads.size === 0;
        threads.add(thread);
        if (first) logInstanceState(event, ` (proxy thread ${thread}; each thread judges its own requests)`);
        else log.debug(`${event.instanceId} ejected by proxy thread ${thread} too: ${event.reason}`);
        return;
      }
      case 'half_open':
        log.debug(`${event.instanceId} half-open on proxy thread ${thread}: ${event.reason}`);
        return;
      case 'restored': {
        const threads = this.#threads(event.instanceId);
        if (!threads.delete(thread)) return;
        if (threads.size === 0) logInstanceState(event, ` (proxy thread ${thread}; no thread ejects it now)`);
        return;
      }
    }
  }

  /** Instances rebuilt by a reload start afresh on every thread: forget what was recorded under their ids. */
  forget(instanceIds: Iterable<string>): void {
    for (const id of instanceIds) this.#ejectedBy.delete(id);
  }

  #threads(instanceId: string): Set<number> {
    let threads = this.#ejectedBy.get(instanceId);
    if (threads === undefined) this.#ejectedBy.set(instanceId, (threads = new Set()));
    return threads;
  }
}
