/**
 * `warpdrive init [FILE]`: writes the commented Rails starter configuration
 * (rails-starter-config.ts) to FILE, `warpdrive.toml` by default, and never over
 * an existing file: the file is created exclusively (O_EXCL), so even a file that
 * appears between a check and the write is left alone.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ArgumentError } from './check-arguments.js';
import { railsStarterConfig } from './rails-starter-config.js';

/** The file `init` writes when none is named. */
export const defaultInitFile = 'warpdrive.toml';

/** Writes the starter config to `file`; returns what to tell the user. Throws ArgumentError (exit 2) when it cannot. */
export function runInitCommand(file: string = defaultInitFile): string {
  const absolute = resolve(file);
  try {
    writeFileSync(absolute, railsStarterConfig, { flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EEXIST'
        ? `${absolute} already exists, and init never overwrites a file; nothing was written. Fix: name another file (warpdrive init config/warpdrive.toml), or move the existing one away first`
        : code === 'ENOENT'
          ? `cannot create ${absolute}: its directory does not exist. Fix: create the directory, or name a file in an existing one`
          : code === 'EACCES' || code === 'EPERM'
            ? `cannot create ${absolute}: permission denied. Fix: run init in a directory you can write to`
            : code === 'EISDIR'
              ? `${absolute} is a directory. Fix: name a file, e.g. warpdrive init ${file.replace(/\/+$/, '')}/warpdrive.toml`
              : `cannot create ${absolute}: ${(error as Error).message}`;
    throw new ArgumentError(`warpdrive init: ${reason}.`);
  }
  const shown = file === defaultInitFile ? file : absolute;
  return [
    `wrote ${absolute}: a starter configuration for a Rails app (Puma on tmp/puma.sock, ActionCable at /cable, public/ served directly, the admin socket), every setting commented.`,
    `Next: read it and adjust it, then`,
    `  warpdrive check --config ${shown}    # validate, and see what would run`,
    `  warpdrive --config ${shown}          # run it`,
  ].join('\n');
}
