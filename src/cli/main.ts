#!/usr/bin/env node
/**
 * The `warpdrive` command (cac): run the proxy, `check` a config, `reload` a
 * running warpdrive, list or explain `routes`, write a starter config with `init`.
 * Kept thin: each command calls one function of src/; argument mistakes are caught
 * before any command runs (check-arguments.ts).
 *
 * Exit codes: 0 ok; 1 runtime failure (port in use, native module missing, no
 * running warpdrive to reload); 2 invalid configuration or arguments. They are
 * decided by an error's stable `code` (WD_ERR_*), never by its class.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { cac } from 'cac';
// app.js and the TLS status are imported when a command needs them, after the signal
// handlers below are in place: loading them (undici, ws, pg, the ACME client...) took
// about a second on a busy machine, and a SIGUSR1 in that window opened Node's inspector.
import type { ReloadOutcome, RunningWarpdrive } from '../app.js';
import { formatPlanSummary, loadConfig } from '../config/index.js';
import { createLogger } from '../log.js';
import { controlFilePath, readControlState, removeControlFile, writeControlState, type ControlState } from '../runtime/control-file.js';
import { checkArguments, repeatable } from './check-arguments.js';
import { runInitCommand } from './init.js';
import { applyLogLevelFlag } from './log-level-flag.js';
import { cacheReachability, runPurgeCommand } from './cache.js';
import { runRoutesCommand } from './routes.js';
import { runRestartCommand, runStatusCommand } from './status.js';

const log = createLogger('warpdrive');

// --- signals ------------------------------------------------------------------------
// Installed when this module loads, before any command runs and before the proxy's
// modules are loaded (see the imports), so that no signal finds the process with Node's
// defaults once warpdrive's code runs. Node's own start-up and this module's few imports
// still have them: measured on a busy 2-vCPU machine, a SIGUSR1 up to ~0.5 s after exec
// opened the inspector (Node alone takes ~0.35 s to start there), against ~1.2 s when the
// proxy's modules were imported here too.

/**
 * SIGUSR1. On Node 20 its default opens the V8 inspector (a debugger, on
 * 127.0.0.1:9229) in the running process; a process that listens for SIGUSR1 itself
 * does not do that (`--disable-sigusr1` only exists from Node 22.14). Kept one small
 * function: the access log's reopen-on-SIGUSR1 belongs here.
 */
/** Once warpdrive runs: reopen the access-log file (logrotate's signal, packaging/logrotate/warpdrive). */
let onReopenSignal: (() => void) | undefined;
function onSigusr1(): void {
  if (onReopenSignal !== undefined) onReopenSignal();
  else log.info('SIGUSR1 received (the Node inspector stays closed)');
}
process.on('SIGUSR1', onSigusr1);

/** What SIGHUP does once warpdrive runs (reload); before that, nothing. */
let onReloadSignal: (() => void) | undefined;
process.on('SIGHUP', () => {
  if (onReloadSignal !== undefined) onReloadSignal();
  else log.warn('SIGHUP received before warpdrive was running: ignored');
});

/**
 * Signals warpdrive has no use for whose default action would end the process:
 * logged and ignored. Left alone: the ones Node or the terminal already ignore
 * (SIGPIPE, SIGWINCH, SIGURG, SIGCHLD), job control (SIGTSTP, SIGTTIN, SIGTTOU,
 * SIGCONT), faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP, and the
 * resource limits SIGXCPU/SIGXFSZ) and SIGPROF, which V8's CPU profiler uses.
 */
const ignoredSignals = (['SIGUSR2', 'SIGALRM', 'SIGVTALRM', 'SIGIO', 'SIGPWR', 'SIGSTKFLT'] as const).filter((name) => name in osConstants.signals);
function logIgnoredSignal(signal: NodeJS.Signals): void {
  log.warn(`${signal} received and ignored (SIGHUP reloads, SIGTERM, SIGINT or SIGQUIT stop)`);
}
for (const signal of ignoredSignals) process.on(signal, logIgnoredSignal);

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `--only a,b --only c` -> ['a', 'b', 'c']. */
function nameList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value : [value];
  return values.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
}

/** Errors in what the user wrote (config file, flags, names): the message alone, exit 2. */
const userErrorCodes: ReadonlySet<string> = new Set(['WD_ERR_CONFIG', 'WD_ERR_ARGUMENT', 'WD_ERR_SUPERVISOR_SELECTION']);
/** Runtime failures whose message already names the cause and the fix: no stack trace, exit 1. */
const explainedCodes: ReadonlySet<string> = new Set([
  'WD_ERR_UWS_NATIVE',
  'WD_ERR_LISTEN',
  'WD_ERR_PROXY_WORKER',
  'WD_ERR_NOT_RUNNING',
  'WD_ERR_RELOAD',
  'WD_ERR_ADMIN_LISTEN',
  'WD_ERR_LOG_FILE',
  'WD_ERR_ADMIN_REQUEST',
  'WD_ERR_PURGE',
]);

class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function fail(error: unknown): never {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && userErrorCodes.has(code)) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  if (typeof code === 'string' && explainedCodes.has(code)) {
    process.stderr.write(`warpdrive: ${(error as Error).message}\n`);
    process.exit(1);
  }
  process.stderr.write(`warpdrive: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}

/** `--config`, else WARPDRIVE_CONFIG, else undefined (simple mode). */
function configFileOf(options: { config?: string }): string | undefined {
  const fromEnv = process.env.WARPDRIVE_CONFIG?.trim();
  return options.config ?? (fromEnv === '' ? undefined : fromEnv);
}

async function run(options: { config?: string; only?: unknown; except?: unknown; logLevel?: string }): Promise<void> {
  applyLogLevelFlag(options.logLevel);
  const configFile = configFileOf(options);
  const plan = loadConfig({ configFile, env: process.env });

  // Stop signals are taken from here on, before anything starts: one that arrives while
  // warpdrive starts (or between its "listening" line and the end of this function) stops
  // it gracefully once it runs, instead of Node's default (death, a core dump for SIGQUIT).
  let running: RunningWarpdrive | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  let stopSignals = 0;
  const onStopSignal = (signal: NodeJS.Signals): void => {
    stopSignals++;
    if (stopSignals > 1) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    if (running === undefined) {
      log.info(`${signal} received while starting: stopping as soon as warpdrive runs`);
      stopRequested = signal;
      return;
    }
    void running.stop(`${signal} received`).then(
      () => {
        if (controlFile !== undefined) removeControlFile(controlFile);
        process.exit(0);
      },
      (error: unknown) => {
        log.error(`error during shutdown: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  // nginx's graceful stop; by default it would dump core with no drain.
  process.on('SIGQUIT', onStopSignal);

  const { startWarpdrive } = await import('../app.js');
  running = await startWarpdrive(plan, {
    only: nameList(options.only),
    except: nameList(options.except),
    load: configFile === undefined ? undefined : () => loadConfig({ configFile, env: process.env }),
  });

  // The control file lets `warpdrive reload --config FILE` find this process.
  const controlFile = configFile === undefined ? undefined : controlFilePath(configFile);
  let state: ControlState | undefined;
  if (controlFile !== undefined) {
    state = { pid: process.pid, config: configFile!, startedAt: new Date().toISOString(), listen: { host: plan.server.bindAddress, port: running.port }, reloads: 0 };
    try {
      writeControlState(controlFile, state);
    } catch (error) {
      log.warn(`cannot write ${controlFile} (${(error as Error).message}); \`warpdrive reload\` will not find this process, SIGHUP still reloads`);
    }
  }
  const recordReload = (outcome: ReloadOutcome): void => {
    if (controlFile === undefined || state === undefined) return;
    state = {
      ...state,
      reloads: state.reloads + 1,
      lastReload: outcome.ok
        ? { ok: true, at: new Date().toISOString(), summary: outcome.summary }
        : { ok: false, at: new Date().toISOString(), error: outcome.error, code: outcome.code },
    };
    try {
      writeControlState(controlFile, state);
    } catch {
      // Reported at start already.
    }
  };

  // nginx's and Caddy's reload signal: load the configuration again, without dropping a connection.
  const started = running;
  onReloadSignal = () => void started.reload('SIGHUP received').then(recordReload);
  onReopenSignal = () => void started.reopenLogFile();
  if (stopRequested !== undefined) {
    stopSignals = 0;
    onStopSignal(stopRequested);
  }
}

/** How long `warpdrive reload` waits for the running process to report. */
const RELOAD_WAIT_MS = 60_000;

async function reloadRunning(options: { config?: string }): Promise<void> {
  const configFile = configFileOf(options);
  if (configFile === undefined) {
    throw new CliError('WD_ERR_ARGUMENT', 'warpdrive reload: which configuration? Give --config FILE (or set WARPDRIVE_CONFIG), the file the running warpdrive was started with. In simple mode there is nothing to reload; restart instead.');
  }
  // Checked here first, exactly as the running process will: a broken file is reported to the
  // person who wrote it, and the running configuration is left alone.
  loadConfig({ configFile, env: process.env });
  const controlFile = controlFilePath(configFile);
  const before = readControlState(controlFile);
  if (before === undefined) {
    throw new CliError(
      'WD_ERR_NOT_RUNNING',
      `no running warpdrive was started with ${configFile} (looked for ${controlFile}). Start it with --config ${configFile}; ` +
        'for a systemd service use `systemctl reload warpdrive`, or send the process SIGHUP yourself (kill -HUP PID).',
    );
  }
  process.kill(before.pid, 'SIGHUP');
  const deadline = Date.now() + RELOAD_WAIT_MS;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = readControlState(controlFile);
    if (now === undefined) throw new CliError('WD_ERR_NOT_RUNNING', `warpdrive (pid ${before.pid}) exited before reporting the reload`);
    if (now.reloads > before.reloads && now.lastReload !== undefined) {
      if (now.lastReload.ok) {
        process.stdout.write(`reloaded pid ${now.pid}: ${now.lastReload.summary ?? ''}\n`);
        return;
      }
      throw new CliError(now.lastReload.code === 'WD_ERR_CONFIG' ? 'WD_ERR_CONFIG' : 'WD_ERR_RELOAD', `reload refused by pid ${now.pid}, which keeps its configuration: ${now.lastReload.error ?? ''}`);
    }
    if (Date.now() > deadline) throw new CliError('WD_ERR_NOT_RUNNING', `warpdrive (pid ${before.pid}) did not report the reload within ${RELOAD_WAIT_MS / 1000} s`);
  }
}

const cli = cac('warpdrive');

cli
  .command('[...args]', 'Run the proxy (and the processes it supervises)')
  .option('-c, --config <file>', 'TOML configuration file (default: $WARPDRIVE_CONFIG; none = simple mode from env vars)')
  .option('--only <names>', 'Supervise only these processes (comma-separated upstream names or instance ids)', repeatable)
  .option('--except <names>', 'Supervise every process except these', repeatable)
  .option('--log-level <level>', 'debug, info, warn or error (default: $WARPDRIVE_LOG_LEVEL or info)')
  .action(async (_args: string[], options: { config?: string; only?: unknown; except?: unknown; logLevel?: string }) => {
    await run(options);
  });

cli
  .command('check', 'Validate the configuration and print what warpdrive would run')
  .option('-c, --config <file>', 'TOML configuration file')
  .action(async (options: { config?: string }) => {
    const plan = loadConfig({ configFile: options.config, env: process.env });
    process.stdout.write(`${formatPlanSummary(plan)}\n`);
    const { describeTls } = await import('../tls/certificate-status.js');
    const tls = await describeTls(plan);
    if (tls.length > 0) process.stdout.write(`${tls.join('\n')}\n`);
    // Whether the cache's Redis and PostgreSQL answer now (informative: a start does not wait for them).
    for (const line of await cacheReachability(plan)) process.stdout.write(`${line}\n`);
  });

cli
  .command('purge <...patterns>', 'Invalidate cached responses: /posts/42, /posts/*, https://example.com/x, tag:post-42, *')
  .option('-c, --config <file>', 'The TOML file the running warpdrive was started with (default: $WARPDRIVE_CONFIG)')
  .action(async (patterns: string[], options: { config?: string }) => {
    process.stdout.write(`${await runPurgeCommand(patterns, configFileOf(options))}\n`);
  });

cli
  .command('reload', 'Have a running warpdrive load its configuration again (same as SIGHUP), after checking it')
  .option('-c, --config <file>', 'The TOML file the running warpdrive was started with (default: $WARPDRIVE_CONFIG)')
  .action(async (options: { config?: string }) => {
    await reloadRunning(options);
  });

cli
  .command('routes', 'Print the compiled route table, or explain which route a request matches')
  .option('-c, --config <file>', 'TOML configuration file')
  .option('--explain <request>', 'A request to explain, e.g. "GET https://example.com/cable"')
  .option('-H, --header <header>', 'A request header for --explain, "Name: value" (repeatable)', repeatable)
  .action((options: { config?: string; explain?: string; header?: string | string[] }) => {
    const headers = options.header === undefined ? [] : Array.isArray(options.header) ? options.header : [options.header];
    process.stdout.write(`${runRoutesCommand({ configFile: options.config, explain: options.explain, headers })}\n`);
  });

cli
  .command('status', 'Show the processes and instances of a running warpdrive (through its [admin] listener)')
  .option('-c, --config <file>', 'The TOML file the running warpdrive was started with (default: $WARPDRIVE_CONFIG)')
  .action(async (options: { config?: string }) => {
    const plan = loadConfig({ configFile: configFileOf(options), env: process.env });
    process.stdout.write(`${await runStatusCommand(plan)}\n`);
  });

cli
  .command('restart <name>', 'Restart a supervised process, or every process of an upstream one at a time (through the [admin] listener)')
  .option('-c, --config <file>', 'The TOML file the running warpdrive was started with (default: $WARPDRIVE_CONFIG)')
  .action(async (name: string, options: { config?: string }) => {
    const plan = loadConfig({ configFile: configFileOf(options), env: process.env });
    process.stdout.write(`${await runRestartCommand(plan, String(name))}\n`);
  });

cli
  .command('init [file]', 'Write a commented starter configuration for a Rails app (default file: warpdrive.toml; never overwrites)')
  .action((file: string | undefined) => {
    process.stdout.write(`${runInitCommand(file === undefined ? undefined : String(file))}\n`);
  });

cli.help();
cli.version(version);

try {
  cli.parse(process.argv, { run: false });
  checkArguments(cli);
  await cli.runMatchedCommand();
} catch (error) {
  fail(error);
}
