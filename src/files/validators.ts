/**
 * Validators of a file: ETag and Last-Modified.
 *
 * The ETag is strong and formed from the file's size and modification time, both
 * in hex: `"<mtime in ms>-<size>"` (nginx uses the same two facts, with the mtime
 * in seconds). No inode: the same file deployed to several machines gets the
 * same ETag on each, so a client moving between them keeps its cache. Two writes
 * within one millisecond that leave the size unchanged would share an ETag; the
 * tag costs no read of the file, which is the trade every file server makes.
 * A precompressed sibling (`app.css.br`) is a file of its own and has its own tag,
 * as RFC 9110 wants for different encodings of one resource.
 *
 * @module
 */

/** The strong ETag for a file of this size and mtime. */
export function fileETag(size: number, mtimeMs: number): string {
  return `"${Math.trunc(mtimeMs).toString(16)}-${size.toString(16)}"`;
}

/** The IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for Last-Modified, whole seconds. */
export function httpDate(ms: number): string {
  return new Date(Math.trunc(ms / 1000) * 1000).toUTCString();
}

/** Last-Modified compares in whole seconds (HTTP dates have no finer unit). */
export function wholeSeconds(ms: number): number {
  return Math.trunc(ms / 1000);
}
