/**
 * What an invalidation names: the payload of a PostgreSQL NOTIFY, the argument
 * of `warpdrive purge`, or the URL an unsafe request changed.
 *
 * Grammar (one or more patterns separated by whitespace):
 *
 *   *                          everything
 *   /posts/42                  that path on any host, with any query string
 *   /posts/42?page=2           exactly that path and query, on any host
 *   /posts/*                   every path starting with /posts/
 *   https://example.com/posts/42      that path on that host (the scheme is not compared)
 *   https://example.com/posts/*       every path under /posts/ on that host
 *   tag:post-42                every response whose Cache-Tag or Surrogate-Key lists post-42
 *
 * Paths are compared as warpdrive stores them: normalised, percent-escapes as the
 * client sent them (see docs/router.md). A host is compared without port and case.
 *
 * @module
 */

export type InvalidationPattern =
  | { readonly kind: 'all' }
  | { readonly kind: 'path'; readonly host: string | undefined; readonly path: string; readonly query: string | undefined }
  | { readonly kind: 'prefix'; readonly host: string | undefined; readonly prefix: string }
  | { readonly kind: 'tag'; readonly tag: string };

/** What a pattern is matched against: the identity of one stored response. */
export interface InvalidationTarget {
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly tags: readonly string[];
}

export class InvalidationSyntaxError extends Error {
  override readonly name = 'InvalidationSyntaxError';
}

function parseOne(text: string): InvalidationPattern {
  if (text === '*') return { kind: 'all' };
  if (text.startsWith('tag:')) {
    const tag = text.slice(4);
    if (tag === '') throw new InvalidationSyntaxError(`"${text}": a tag pattern needs a name after "tag:", e.g. tag:post-42`);
    return { kind: 'tag', tag };
  }
  let host: string | undefined;
  let rest = text;
  const scheme = /^https?:\/\//i.exec(text);
  if (scheme) {
    const afterScheme = text.slice(scheme[0].length);
    const slash = afterScheme.indexOf('/');
    const authority = slash < 0 ? afterScheme : afterScheme.slice(0, slash);
    host = authority.replace(/:\d*$/, '').replace(/\.$/, '').toLowerCase();
    if (host === '' || host.includes('@')) throw new InvalidationSyntaxError(`"${text}": expected a URL with a host, such as https://example.com/posts/42`);
    rest = slash < 0 ? '/' : afterScheme.slice(slash);
  }
  if (!rest.startsWith('/')) {
    throw new InvalidationSyntaxError(
      `"${text}": expected *, a path starting with "/" (/posts/42, /posts/*), a URL (https://example.com/posts/42) or tag:NAME`,
    );
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  if (rest.endsWith('*')) {
    const prefix = rest.slice(0, -1);
    if (prefix.includes('*') || prefix.includes('?')) throw new InvalidationSyntaxError(`"${text}": "*" may only end a path prefix, as in /posts/*`);
    return { kind: 'prefix', host, prefix };
  }
  if (rest.includes('*')) throw new InvalidationSyntaxError(`"${text}": "*" may only end a path prefix, as in /posts/*`);
  const question = rest.indexOf('?');
  if (question < 0) return { kind: 'path', host, path: rest, query: undefined };
  return { kind: 'path', host, path: rest.slice(0, question), query: rest.slice(question + 1) };
}

/** Parses a payload of whitespace-separated patterns; throws InvalidationSyntaxError naming the bad one. */
export function parseInvalidation(payload: string): InvalidationPattern[] {
  const parts = payload.trim().split(/\s+/).filter((part) => part !== '');
  if (parts.length === 0) throw new InvalidationSyntaxError('empty invalidation: expected *, a path, a URL or tag:NAME');
  return parts.map(parseOne);
}

/** Writes a pattern back in the grammar (for logs and for relaying between threads). */
export function formatInvalidation(pattern: InvalidationPattern): string {
  switch (pattern.kind) {
    case 'all':
      return '*';
    case 'tag':
      return `tag:${pattern.tag}`;
    case 'prefix':
      return `${pattern.host === undefined ? '' : `http://${pattern.host}`}${pattern.prefix}*`;
    case 'path':
      return `${pattern.host === undefined ? '' : `http://${pattern.host}`}${pattern.path}${pattern.query === undefined ? '' : `?${pattern.query}`}`;
  }
}

export function matchesInvalidation(pattern: InvalidationPattern, target: InvalidationTarget): boolean {
  switch (pattern.kind) {
    case 'all':
      return true;
    case 'tag':
      return target.tags.includes(pattern.tag);
    case 'prefix':
      return (pattern.host === undefined || pattern.host === target.host) && target.path.startsWith(pattern.prefix);
    case 'path':
      return (
        (pattern.host === undefined || pattern.host === target.host) &&
        pattern.path === target.path &&
        (pattern.query === undefined || pattern.query === target.query)
      );
  }
}
