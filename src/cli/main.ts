#!/usr/bin/env node
/**
 * The `warpdrive` command (cac): run the proxy, `check` a config, `reload` a
 * running warpdrive, list or explain `routes`. Kept thin: each command calls one
 * function of src/.
 *
 * Exit codes: 0 ok; 1 runtime failure (port in use, native module missing, no
 * running warpdrive to reload); 2 invalid configuration or arguments. They are
 * decided by an error's stable `code` (WD_ERR_*), never by its class.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { cac } from 'cac';
import { startWarpdrive, type ReloadOutcome } from '../app.js';
import { formatPlanSummary, loadConfig } from '../config/index.js';
import { describeTls } from '../tls/certificate-status.js';
import { createLogger, setLogLevel, type LogLevel } from '../log.js';
import { controlFilePath, readControlState, removeControlFile, writeControlState, type ControlState } from '../runtime/control-file.js';
import { cacheReachability, runPurgeCommand } from './cache.js';
import { runRoutesCommand } from './routes.js';

const log = createLogger('warpdrive');
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
const explainedCodes: ReadonlySet<string> = new Set(['WD_ERR_UWS_NATIVE', 'WD_ERR_LISTEN', 'WD_ERR_PROXY_WORKER', 'WD_ERR_NOT_RUNNING', 'WD_ERR_RELOAD', 'WD_ERR_PURGE']);

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
  if (options.logLevel) setLogLevel(options.logLevel as LogLevel);
  const configFile = configFileOf(options);
  const plan = loadConfig({ configFile, env: process.env });
  const running = await startWarpdrive(plan, {
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

  let stopSignals = 0;
  const onStopSignal = (signal: NodeJS.Signals): void => {
    stopSignals++;
    if (stopSignals > 1) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
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
  // nginx's and Caddy's reload signal: load the configuration again, without dropping a connection.
  process.on('SIGHUP', () => void running.reload('SIGHUP received').then(recordReload));
  // Not a warpdrive signal: by default it would end the process with no drain and no word.
  process.on('SIGUSR2', () => log.warn('SIGUSR2 received and ignored (SIGHUP reloads, SIGTERM stops)'));
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
  .option('--only <names>', 'Supervise only these processes (comma-separated upstream names or instance ids)')
  .option('--except <names>', 'Supervise every process except these')
  .option('--log-level <level>', 'debug, info, warn or error (default: $WARPDRIVE_LOG_LEVEL or info)')
  .action(async (args: string[], options: { config?: string; only?: unknown; except?: unknown; logLevel?: string }) => {
    if (args.length > 0) {
      process.stderr.write(`warpdrive: unknown command "${args[0]}". Commands: check, reload, purge, routes; run "warpdrive --help".\n`);
      process.exit(2);
    }
    await run(options);
  });

cli
  .command('check', 'Validate the configuration and print what warpdrive would run')
  .option('-c, --config <file>', 'TOML configuration file')
  .action(async (options: { config?: string }) => {
    const plan = loadConfig({ configFile: options.config, env: process.env });
    process.stdout.write(`${formatPlanSummary(plan)}\n`);
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
  .option('-H, --header <header>', 'A request header for --explain, "Name: value" (repeatable)')
  .action((options: { config?: string; explain?: string; header?: string | string[] }) => {
    const headers = options.header === undefined ? [] : Array.isArray(options.header) ? options.header : [options.header];
    process.stdout.write(`${runRoutesCommand({ configFile: options.config, explain: options.explain, headers })}\n`);
  });

cli.help();
cli.version(version);

try {
  cli.parse(process.argv, { run: false });
  await cli.runMatchedCommand();
} catch (error) {
  fail(error);
}
