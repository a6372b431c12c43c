/**
 * A directory files may be served from, resolved once when a configuration is
 * built: its path as configured (absolute) and its real path (symlinks followed).
 *
 * A file is inside a root when its real path is the root's real path or below
 * it; the check is a string prefix test on real paths, so a symlink inside the
 * root that leads out of it is caught by resolving the file, not by reading links.
 *
 * @module
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, sep } from 'node:path';

/** Why a configured root cannot be used (the config layer turns this into a ConfigIssue). */
export class FileRootError extends Error {
  override readonly name = 'FileRootError';
}

export class FileRoot {
  /** Absolute, as configured (after resolving a relative path against the config's directory). */
  readonly path: string;
  /** `path` with every symlink resolved. */
  readonly realPath: string;
  /** `realPath` with a trailing separator: what every file's real path must start with. */
  readonly #realPrefix: string;
  readonly #pathPrefix: string;

  private constructor(path: string, realPath: string) {
    this.path = path;
    this.realPath = realPath;
    this.#realPrefix = realPath.endsWith(sep) ? realPath : realPath + sep;
    this.#pathPrefix = path.endsWith(sep) ? path : path + sep;
  }

  /** Resolves an absolute directory path; throws FileRootError when it is missing or not a directory. */
  static resolve(path: string): FileRoot {
    if (!isAbsolute(path)) throw new FileRootError(`${path} is not an absolute path`);
    let realPath: string;
    try {
      realPath = realpathSync.native(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new FileRootError(code === 'ENOENT' ? `directory not found: ${path}` : `cannot resolve ${path}: ${(error as Error).message}`);
    }
    if (!statSync(realPath).isDirectory()) throw new FileRootError(`not a directory: ${path}`);
    return new FileRoot(path, realPath);
  }

  /** True when `realPath` (symlinks resolved) is this root or below it. */
  containsReal(realPath: string): boolean {
    return realPath.startsWith(this.#realPrefix) || realPath === this.realPath;
  }

  /**
   * True when the absolute, normalised `path` is below this root as spelt in the
   * configuration or as its real path (an app may name files either way).
   */
  containsLexically(path: string): boolean {
    return path.startsWith(this.#pathPrefix) || path.startsWith(this.#realPrefix);
  }
}
