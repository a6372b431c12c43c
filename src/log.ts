/**
 * warpdrive's one logger: a line per event on stderr, `time level [component] message`.
 *
 * Kept deliberately small: the supervisor forwards child output through it and
 * the access log (middleware) uses stdout; nothing here is on the hot path
 * unless request logging is switched on.
 *
 * @module
 */

/** The levels, least severe first: what `--log-level` and `WARPDRIVE_LOG_LEVEL` accept. */
export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** `"WARN"` -> `'warn'`; undefined for anything that is not a level (the caller says so to the user). */
export function parseLogLevel(text: string): LogLevel | undefined {
  const lower = text.trim().toLowerCase();
  return (logLevels as readonly string[]).includes(lower) ? (lower as LogLevel) : undefined;
}

/**
 * The level from the environment. An invalid value falls back to info here: the
 * logger must work before the configuration is loaded, and loading reports the
 * bad variable (config/env.ts) and stops warpdrive with exit 2.
 */
function thresholdFromEnv(): number {
  return levelRank[parseLogLevel(process.env.WARPDRIVE_LOG_LEVEL ?? '') ?? 'info'];
}

let threshold = thresholdFromEnv();

/** Changes the minimum level that is written (tests and `--log-level`). */
export function setLogLevel(level: LogLevel): void {
  threshold = levelRank[level];
}

function write(level: LogLevel, component: string, message: string): void {
  if (levelRank[level] < threshold) return;
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} [${component}] ${message}\n`);
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A logger whose lines carry `[component]`. */
export function createLogger(component: string): Logger {
  return {
    debug: (message) => write('debug', component, message),
    info: (message) => write('info', component, message),
    warn: (message) => write('warn', component, message),
    error: (message) => write('error', component, message),
  };
}
