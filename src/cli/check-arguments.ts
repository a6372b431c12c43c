/**
 * Command-line mistakes, caught before any command runs: an unknown command or
 * option, an option without its value, a single-valued option given twice, an
 * argument a command does not take. Each becomes an `ArgumentError`, one
 * paragraph saying what was wrong, what is valid and where to read more; the CLI
 * prints it without a stack trace and exits 2.
 *
 * cac finds some of these itself, but throws them as stack traces with wording
 * of its own (`CACError: Unknown option`), and misses others (a repeated
 * `--config` reaches the command as an array, `--config 8080` as a number). This
 * check reads what cac parsed (`cli.matchedCommand`, `cli.options`, `cli.args`)
 * and the options each command declares, so it follows the commands as they are
 * defined in main.ts without a list of its own.
 *
 * @module
 */
import type { CAC, Command } from 'cac';
import { didYouMean } from '../config/errors.js';

/** A mistake on the command line (exit 2). */
export class ArgumentError extends Error {
  readonly code = 'WD_ERR_ARGUMENT';

  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}

/**
 * cac's per-value transform for repeatable options: values become strings
 * (`-H 1` is not the number 1), but a missing value (mri's `true`/`false`)
 * stays a boolean so checkArguments can say it is missing.
 */
function repeatableValue(value: unknown): unknown {
  return typeof value === 'boolean' ? value : String(value);
}

/** Option config for an option that may be given more than once (`--only a --only b`): its value is always an array. */
export const repeatable = { type: [repeatableValue] };

type Option = Command['options'][number];

const helpHint = 'run "warpdrive --help" for every command and option';

/** `logLevel` -> `--log-level`, `c` -> `-c`: the spelling the user typed, from cac's camelCased key. */
function spelled(key: string): string {
  return key.length === 1 ? `-${key}` : `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** `-c, --config <file>` -> `--config <file>`. */
function longForm(option: Option): string {
  const parts = option.rawName.split(',').map((part) => part.trim());
  return parts.find((part) => part.startsWith('--')) ?? parts[0]!;
}

function commandLabel(command: Command): string {
  return command.isDefaultCommand ? 'warpdrive' : `warpdrive ${command.name}`;
}

function optionsOf(cli: CAC, command: Command): Option[] {
  return [...command.options, ...cli.globalCommand.options];
}

function findOption(cli: CAC, command: Command, key: string): Option | undefined {
  return command.hasOption(key) ?? cli.globalCommand.hasOption(key);
}

function unknownCommand(cli: CAC, word: string): ArgumentError {
  const names = cli.commands.filter((command) => !command.isDefaultCommand).map((command) => command.name);
  const hint = word.endsWith('.toml')
    ? `; to run with a configuration file, name it with --config: warpdrive --config ${word}`
    : didYouMean(word, names);
  return new ArgumentError(
    `warpdrive: unknown command "${word}"${hint}. Commands: ${names.join(', ')}; without a command warpdrive runs the proxy. ` +
      `${helpHint[0]!.toUpperCase()}${helpHint.slice(1)}.`,
  );
}

function unknownOption(cli: CAC, command: Command, key: string): ArgumentError {
  const options = optionsOf(cli, command);
  const longNames = options.map((option) => longForm(option).split(' ')[0]!);
  const typed = spelled(key);
  const suggestion = didYouMean(typed, longNames);
  // An option another command takes is a common slip (`warpdrive check --only web`): say whose it is.
  const owners = cli.commands.filter((other) => other !== command && other.hasOption(key)).map(commandLabel);
  const elsewhere = owners.length === 0 ? '' : ` (${typed} is an option of ${owners.join(', ')})`;
  return new ArgumentError(
    `warpdrive: unknown option ${typed}${suggestion}${elsewhere}. Options of ${commandLabel(command)}: ` +
      `${options.map(longForm).join(', ')}; ${helpHint}.`,
  );
}

function missingValue(option: Option): ArgumentError {
  const form = longForm(option);
  const name = form.split(' ')[0]!;
  // The description's first clause says what the value is; the parenthesis (defaults) is for --help.
  const what = option.description.replace(/\s*\(.*$/, '');
  return new ArgumentError(`warpdrive: option ${name} was given without its value; expected ${form} (${what}), written ${name} VALUE or ${name}=VALUE; ${helpHint}.`);
}

function givenTwice(option: Option, values: readonly unknown[]): ArgumentError {
  const name = longForm(option).split(' ')[0]!;
  return new ArgumentError(
    `warpdrive: option ${name} was given ${values.length} times (${values.map((value) => JSON.stringify(String(value))).join(', ')}) but takes one value; keep one of them; ${helpHint}.`,
  );
}

/**
 * Throws an ArgumentError for the first mistake in what `cli.parse()` found.
 * Run it after `cli.parse(argv, { run: false })` and before `runMatchedCommand()`.
 * Numeric values of single-valued options are turned back into strings
 * (`--config 8080` names a file), so commands always receive strings.
 */
export function checkArguments(cli: CAC): void {
  // --help and --version have printed what was asked (and unset the command): nothing runs.
  if (cli.options.help === true || cli.options.version === true) return;
  const command = cli.matchedCommand;
  if (command === undefined) {
    if (cli.args[0] !== undefined) throw unknownCommand(cli, String(cli.args[0]));
    return;
  }

  // The default command's [...args] only exists to catch words: any word there is a command that does not exist.
  const maxArgs = command.isDefaultCommand ? 0 : command.args.some((arg) => arg.variadic) ? Infinity : command.args.length;
  if (cli.args.length > maxArgs) {
    const extra = String(cli.args[maxArgs]);
    if (command.isDefaultCommand) throw unknownCommand(cli, extra);
    const takes =
      command.args.length === 0
        ? 'takes no arguments'
        : `takes at most ${command.args.length} argument${command.args.length === 1 ? '' : 's'} (${command.args.map((arg) => arg.value).join(', ')})`;
    throw new ArgumentError(`warpdrive: ${commandLabel(command)} ${takes}, found "${extra}" as well. Usage: warpdrive ${command.rawName}; ${helpHint}.`);
  }
  const required = command.args.filter((arg) => arg.required);
  if (cli.args.length < required.length) {
    const missing = required[cli.args.length]!.value;
    throw new ArgumentError(`warpdrive: ${commandLabel(command)} needs ${missing}. Usage: warpdrive ${command.rawName}; ${helpHint}.`);
  }

  for (const [key, value] of Object.entries(cli.options)) {
    if (key === '--') continue;
    const option = findOption(cli, command, key);
    if (option === undefined) throw unknownOption(cli, command, key);
    // Options are listed under every alias (`c` and `config`); check each once, under its main name.
    if (key !== option.name) continue;
    if (!option.required) continue;
    const values: unknown[] = Array.isArray(value) ? value : [value];
    // mri's spellings of "no value": `--config` at the end or before another option (true), `--no-config` (false), `--config=` (true or '').
    if (values.some((each) => each === true || each === false || each === '')) throw missingValue(option);
    if (Array.isArray(option.config.type)) continue;
    if (values.length > 1) throw givenTwice(option, values);
    if (typeof value === 'number') {
      for (const name of option.names) cli.options[name] = String(value);
    }
  }
}
