/**
 * The last lines each supervised process wrote (stdout and stderr), kept in
 * memory for the admin dashboard's log tail: a bounded ring per process, fed by
 * the supervisor's `log` events (on only when the admin listener is).
 *
 * @module
 */
import type { SupervisorEvent } from '../supervisor/protocol.js';

export interface ProcessLogLine {
  /** Epoch ms when warpdrive read it. */
  readonly at: number;
  readonly process: string;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

export class ProcessLogs {
  readonly #perProcess: number;
  readonly #lines = new Map<string, ProcessLogLine[]>();

  constructor(perProcess = 200) {
    this.#perProcess = perProcess;
  }

  /** A supervisor listener: keeps `log` events, ignores the rest. */
  readonly listener = (event: SupervisorEvent): void => {
    if (event.type !== 'log') return;
    let lines = this.#lines.get(event.unit);
    if (lines === undefined) this.#lines.set(event.unit, (lines = []));
    lines.push({ at: Date.now(), process: event.unit, stream: event.stream, line: event.line });
    if (lines.length > this.#perProcess) lines.splice(0, lines.length - this.#perProcess);
  };

  /** The last `limit` lines of `process` (or of all processes, by time), oldest first. */
  tail(limit: number, process?: string): ProcessLogLine[] {
    const lines = process === undefined ? [...this.#lines.values()].flat().sort((a, b) => a.at - b.at) : (this.#lines.get(process) ?? []);
    return lines.slice(Math.max(0, lines.length - limit));
  }
}
