/**
 * Opens a file only if it is a regular file whose real location is inside one of
 * the allowed roots.
 *
 * The order of the steps is what makes it safe:
 * 1. `stat` (following symlinks): a directory, a device, a FIFO or a socket is
 *    answered without ever being opened (opening a device can have effects, and
 *    opening a FIFO for reading would block until a writer comes);
 * 2. `open` with O_NONBLOCK (should the path have become a FIFO in between);
 * 3. `fstat` the descriptor: what was opened is a regular file;
 * 4. the real path *of the open descriptor* (Linux: `/proc/self/fd/N`), checked
 *    against the roots' real paths. Asking the kernel which file the descriptor
 *    holds, rather than resolving the path again, leaves no window in which a
 *    symlink could be swapped between the check and the read. Where /proc is
 *    missing (macOS), the path is resolved with realpath after opening, which
 *    leaves that window open to someone who can write inside the root.
 *
 * File metadata calls are synchronous, as nginx makes them (without `aio threads`):
 * on a warm dentry cache they cost a few microseconds each, a quarter of what a
 * round trip through libuv's thread pool costs (native-notes/files.md).
 *
 * @module
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import type { FileRoot } from './file-root.js';

/** Why an existing path is not served. */
export const enum FileRefusal {
  /** The path is not below any root (before symlinks are followed). */
  OutsideRoots = 1,
  /** Following symlinks leads outside every root. */
  SymlinkEscape,
  /** A device, FIFO or socket. */
  NotRegularFile,
  /** A directory where a file was needed. */
  Directory,
  /** The OS refused access (permissions, a symlink loop). */
  NotReadable,
}

export function describeFileRefusal(reason: FileRefusal): string {
  switch (reason) {
    case FileRefusal.OutsideRoots:
      return 'outside every allowed root';
    case FileRefusal.SymlinkEscape:
      return 'a symlink leading outside every allowed root';
    case FileRefusal.NotRegularFile:
      return 'not a regular file (device, FIFO or socket)';
    case FileRefusal.Directory:
      return 'a directory';
    case FileRefusal.NotReadable:
      return 'not readable';
  }
}

/** An open, confined, regular file. The caller owns `fd` and must close it. */
export interface OpenFile {
  readonly kind: 'file';
  readonly fd: number;
  readonly stats: Stats;
}

export type OpenOutcome =
  | OpenFile
  | { readonly kind: 'directory' }
  | { readonly kind: 'missing' }
  | { readonly kind: 'refused'; readonly reason: FileRefusal };

const MISSING = Object.freeze({ kind: 'missing' as const });
const DIRECTORY = Object.freeze({ kind: 'directory' as const });
const refusals = new Map<FileRefusal, OpenOutcome>();
function refused(reason: FileRefusal): OpenOutcome {
  let outcome = refusals.get(reason);
  if (outcome === undefined) refusals.set(reason, (outcome = Object.freeze({ kind: 'refused' as const, reason })));
  return outcome;
}

/** Whether the kernel can tell us the path of an open descriptor (Linux). */
const hasProcFd = existsSync('/proc/self/fd');

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function classifyError(error: unknown): OpenOutcome {
  const code = (error as NodeJS.ErrnoException).code;
  // ENOTDIR: a component of the path is a file (`/app.css/x`): nothing there.
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return MISSING;
  return refused(FileRefusal.NotReadable);
}

/** The real path of what `fd` holds. */
function realPathOf(fd: number, path: string): string {
  return hasProcFd ? readlinkSync(`/proc/self/fd/${fd}`) : realpathSync.native(path);
}

/**
 * Opens `path` (absolute, normalised) if it is a regular file inside one of
 * `roots`. The lexical check (is `path` under a root at all?) is the caller's.
 */
export function openConfined(path: string, roots: readonly FileRoot[]): OpenOutcome {
  let stats: Stats | undefined;
  try {
    stats = statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    return classifyError(error);
  }
  if (stats === undefined) return MISSING;
  if (stats.isDirectory()) return DIRECTORY;
  if (!stats.isFile()) return refused(FileRefusal.NotRegularFile);

  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (error) {
    return classifyError(error);
  }
  try {
    const opened = fstatSync(fd);
    if (!opened.isFile()) {
      closeSync(fd);
      return refused(opened.isDirectory() ? FileRefusal.Directory : FileRefusal.NotRegularFile);
    }
    const realPath = realPathOf(fd, path);
    if (!roots.some((root) => root.containsReal(realPath))) {
      closeSync(fd);
      return refused(FileRefusal.SymlinkEscape);
    }
    return { kind: 'file', fd, stats: opened };
  } catch (error) {
    closeSync(fd);
    return classifyError(error);
  }
}
