/**
 * Removing a header the client sent from the upstream request, keeping its first
 * value: what a filter that replaces a header (X-Request-Id, X-Request-Start)
 * does with the client's copy. One pass, in place, no allocation when the header
 * is absent.
 *
 * @module
 */

/** Removes every `name` (lowercase) from the flat [name, value, ...] list; returns the first value, if any. */
export function takeHeader(headers: string[], name: string): string | undefined {
  let found: string | undefined;
  let write = 0;
  for (let read = 0; read < headers.length; read += 2) {
    if (headers[read] === name) {
      found ??= headers[read + 1];
      continue;
    }
    if (write !== read) {
      headers[write] = headers[read]!;
      headers[write + 1] = headers[read + 1]!;
    }
    write += 2;
  }
  if (write !== headers.length) headers.length = write;
  return found;
}
