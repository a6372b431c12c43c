/**
 * `--log-level LEVEL`: checked like any other argument (exit 2 with the valid
 * levels), then applied to this thread's logger and, through the environment they
 * inherit, to the worker threads (supervisor, proxy threads) started after it.
 *
 * @module
 */
import { logLevels, parseLogLevel, setLogLevel } from '../log.js';
import { ArgumentError } from './check-arguments.js';

/** Applies the flag's level when given; throws ArgumentError for a word that is not a level. */
export function applyLogLevelFlag(flag: string | undefined): void {
  if (flag === undefined) return;
  const level = parseLogLevel(flag);
  if (level === undefined) {
    throw new ArgumentError(`warpdrive: --log-level ${JSON.stringify(flag)} is not a log level; valid: ${logLevels.join(', ')} (default info). Run "warpdrive --help".`);
  }
  setLogLevel(level);
  process.env.WARPDRIVE_LOG_LEVEL = level;
}
