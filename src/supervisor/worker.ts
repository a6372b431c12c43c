/**
 * The supervisor worker thread's entry: commands in from the main thread,
 * events out. All child I/O (spawning, reading output, probing, sampling)
 * happens on this thread's event loop, never on the proxy's.
 *
 * @module
 */

import { parentPort } from 'node:worker_threads';
import { Fleet } from './fleet.js';
import { LogSink } from '../log-sink.js';
import { toWireError, type SupervisorCommand, type SupervisorEvent, type StreamName, type WorkerOptions } from './protocol.js';

if (!parentPort) throw new Error('src/supervisor/worker.ts is a worker_threads entry; start it through SupervisorClient');
const port = parentPort;

let fleet: Fleet | undefined;
let sink: LogSink | undefined;

function emit(event: SupervisorEvent): void {
  port.postMessage(event);
}

/** Child output counts as `info`; a stricter WARPDRIVE_LOG_LEVEL hides it (failed reports still carry the last lines). */
const childOutputShown = !['warn', 'error'].includes((process.env.WARPDRIVE_LOG_LEVEL ?? 'info').toLowerCase());

function outputLineHandler(options: WorkerOptions): (unit: string, stream: StreamName, line: string) => void {
  const writeToStderr = options.logToStderr && childOutputShown;
  if (writeToStderr) {
    sink = new LogSink({
      fd: 2,
      onDropped: (count, self) => self.writeLine(`${new Date().toISOString()} warn  [supervisor] ${count} child output lines dropped: stderr could not keep up`),
    });
  }
  return function outputLine(unit, stream, line) {
    // Same shape as src/log.ts lines, with the unit and stream as the component.
    if (writeToStderr) sink!.writeLine(`${new Date().toISOString()} info  [${unit} ${stream}] ${line}`);
    if (options.forwardLogs) emit({ type: 'log', unit, stream, line });
  };
}

async function handle(command: SupervisorCommand): Promise<void> {
  switch (command.type) {
    case 'start': {
      if (fleet) {
        emit({ type: 'error', error: { code: 'WD_ERR_SUPERVISOR_STATE', message: 'start received twice; a worker runs one fleet' } });
        return;
      }
      fleet = new Fleet(command.units, command.options, emit, outputLineHandler(command.options));
      await fleet.start(command.awaitGoneGroups);
      return;
    }
    case 'stop': {
      await fleet?.stop();
      emit({ type: 'stopped' });
      sink?.close();
      // Closing the port lets this thread end once pending log writes are done.
      port.close();
      return;
    }
    case 'update':
      await fleet?.update(command.units);
      return;
    case 'restart':
      await fleet?.restartUnit(command.unit);
      return;
    case 'crash':
      setImmediate(() => {
        throw new Error(command.message);
      });
      return;
  }
}

port.on('message', (command: SupervisorCommand) => {
  handle(command).catch((error: unknown) => emit({ type: 'error', error: toWireError(error) }));
});
