/**
 * Which response header fields a stored response keeps (RFC 9111 3.1), and how
 * a 304 or a HEAD response updates them (3.2).
 *
 * Not kept: the connection's own fields (Connection and the fields it names,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade), the
 * proxy-authentication fields, fields a `no-cache="..."` or `private="..."`
 * directive lists, and the fields warpdrive writes itself when it serves the
 * entry: Age (computed anew), Date and Content-Length (uWebSockets.js writes
 * both on every response). Everything else, unknown fields included, is kept
 * in the order and letter case the upstream sent.
 *
 * An update takes every field of the new response except those, and except
 * Content-Encoding and Content-Range, which describe the stored body rather
 * than the resource (3.2 allows leaving out fields whose change would make the
 * stored response inconsistent).
 *
 * @module
 */
import { headerListMembers } from './header-list.js';

/** Never stored, never updated: connection-specific or written by warpdrive itself. */
const alwaysDropped: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
  'age',
  'date',
  'content-length',
]);

/** Describe the body that is kept, so a 304 may not change them. */
const keptFromStored: ReadonlySet<string> = new Set(['content-encoding', 'content-range']);

/**
 * True when the stored ETag is the weak form of `incoming` (W/"x" against "x"):
 * the stored body is a transformation of the upstream's (compressed on the way to
 * the client, which weakens the tag), and the upstream's strong tag, which names
 * its own bytes, must not be put back on it.
 */
function weakenedBySelf(stored: readonly string[], incoming: string): boolean {
  for (let i = 0; i < stored.length; i += 2) {
    if (stored[i]!.toLowerCase() !== 'etag') continue;
    const value = stored[i + 1]!;
    return value.startsWith('W/') && !incoming.startsWith('W/') && value.slice(2) === incoming;
  }
  return false;
}

/** Lowercase names of every field the response's own Connection header lists. */
function connectionListed(headers: readonly string[]): Set<string> {
  return new Set(headerListMembers(headers, 'connection').map((name) => name.toLowerCase()));
}

/** The fields of `headers` a stored response keeps; `omitted` adds names (lowercase) from no-cache/private lists. */
export function headersToStore(headers: readonly string[], omitted: readonly string[] = []): string[] {
  const listed = connectionListed(headers);
  const stored: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i]!.toLowerCase();
    if (alwaysDropped.has(lower) || listed.has(lower) || omitted.includes(lower)) continue;
    stored.push(headers[i]!, headers[i + 1]!);
  }
  return stored;
}

/**
 * The stored fields updated by a newer response's (a 304's) fields: each field
 * the new response carries replaces every stored line of that name; the rest
 * stay as stored.
 */
export function updateStoredHeaders(stored: readonly string[], fresh: readonly string[], omitted: readonly string[] = []): string[] {
  const incoming = headersToStore(fresh, omitted);
  const replaced = new Set<string>();
  for (let i = 0; i < incoming.length; i += 2) {
    const lower = incoming[i]!.toLowerCase();
    if (keptFromStored.has(lower)) continue;
    if (lower === 'etag' && weakenedBySelf(stored, incoming[i + 1]!)) continue;
    replaced.add(lower);
  }
  const result: string[] = [];
  for (let i = 0; i < stored.length; i += 2) {
    if (!replaced.has(stored[i]!.toLowerCase())) result.push(stored[i]!, stored[i + 1]!);
  }
  for (let i = 0; i < incoming.length; i += 2) {
    if (replaced.has(incoming[i]!.toLowerCase())) result.push(incoming[i]!, incoming[i + 1]!);
  }
  return result;
}
