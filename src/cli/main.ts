#!/usr/bin/env node
/**
 * The `warpdrive` command (cac): run the proxy, `check` a config, list or
 * explain `routes`, write a starter config with `init`. Kept thin: each command
 * calls one function of src/; argument mistakes are caught before any command
 * runs (check-arguments.ts).
 *
 * Exit codes: 0 ok; 1 runtime failure (port in use, native module missing);
 * 2 invalid configuration or arguments.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { cac } from 'cac';
import { startWarpdrive } from '../app.js';
import { ConfigError, formatPlanSummary, loadConfig } from '../config/index.js';
import { NativeBindingError } from '../ingress/uws.js';
import { PortInUseError } from '../ingress/server.js';
import { createLogger } from '../log.js';
import { SupervisorSelectionError } from '../supervisor/index.js';
import { ProxyWorkerStartError } from '../threads/proxy-workers.js';
import { ArgumentError, checkArguments, repeatable } from './check-arguments.js';
import { runInitCommand } from './init.js';
import { applyLogLevelFlag } from './log-level-flag.js';
import { RoutesArgumentError, runRoutesCommand } from './routes.js';

const log = createLogger('warpdrive');
const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `--only a,b --only c` -> ['a', 'b', 'c']. */
function nameList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value : [value];
  return values.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
}

function fail(error: unknown): never {
  // Errors in what the user wrote (config file, flags): the message alone, exit 2.
  if (error instanceof ConfigError || error instanceof SupervisorSelectionError || error instanceof RoutesArgumentError || error instanceof ArgumentError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  // Runtime failures whose message already names the cause and the fix: no stack trace.
  if (error instanceof NativeBindingError || error instanceof PortInUseError || error instanceof ProxyWorkerStartError) {
    process.stderr.write(`warpdrive: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`warpdrive: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}

async function run(options: { config?: string; only?: unknown; except?: unknown; logLevel?: string }): Promise<void> {
  applyLogLevelFlag(options.logLevel);
  const plan = loadConfig({ configFile: options.config, env: process.env });
  const running = await startWarpdrive(plan, { only: nameList(options.only), except: nameList(options.except) });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    void running.stop(`${signal} received`).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error(`error during shutdown: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
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
  .action((options: { config?: string }) => {
    const plan = loadConfig({ configFile: options.config, env: process.env });
    process.stdout.write(`${formatPlanSummary(plan)}\n`);
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
