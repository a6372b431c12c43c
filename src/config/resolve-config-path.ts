/**
 * Relative paths in a configuration file are relative to the file's directory,
 * not to the directory warpdrive happens to be started from (as with nginx's
 * `include`, Caddy's `import` and docker compose's build contexts): the same file
 * then means the same thing under systemd (cwd `/`), from a shell in another
 * directory, or from `npm start`.
 *
 * Every path-valued key goes through `resolveConfigPath` in `compile()` (and in the
 * checks that look at the disk): instance sockets, `process.cwd` (which also
 * defaults to the file's directory), TLS files and the ACME directory, static roots,
 * X-Sendfile roots and mappings, the access-log file and the admin socket. In simple mode there is
 * no file, and `baseDir` is the working directory, where the shell that set the
 * environment variables stood.
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from 'node:path';

/** The directory relative paths of `source` resolve against: the config file's, or `cwd` when there is no file. */
export function configBaseDir(configFile: string | undefined, cwd: string = process.cwd()): string {
  return configFile === undefined ? cwd : dirname(resolve(cwd, configFile));
}

/** `path` as an absolute path: resolved against `baseDir` when relative; `..` and `.` collapsed either way. */
export function resolveConfigPath(baseDir: string, path: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
}

/**
 * The longest Unix socket path the platform accepts, in bytes (sun_path without its
 * terminating NUL: 108 on Linux, 104 on macOS and the BSDs). Resolving a relative
 * socket makes it longer, so `check` compares the resolved path with this.
 */
export const maxSocketPathBytes = process.platform === 'linux' ? 107 : 103;
