/**
 * Which media types are worth compressing: text and structured text, not images,
 * video, archives or fonts that are already compressed (woff/woff2).
 *
 * Entries are exact media types (`application/json`) or a whole top-level type
 * (`text/*`). `text/event-stream` is never compressed whatever the list says (SSE
 * must reach the client event by event; see compression-policy.ts).
 *
 * @module
 */

/** The default `compression_types`: what nginx, Caddy and CDNs compress in practice. */
export const defaultCompressibleTypes: readonly string[] = Object.freeze([
  'text/*',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/json',
  'application/ld+json',
  'application/manifest+json',
  'application/geo+json',
  'application/problem+json',
  'application/vnd.api+json',
  'application/graphql-response+json',
  'application/xml',
  'application/xhtml+xml',
  'application/rss+xml',
  'application/atom+xml',
  'application/wasm',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'font/ttf',
  'font/otf',
  'image/svg+xml',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/bmp',
]);

/** The syntax of one entry: `type/subtype` or `type/*`, lowercase tokens. */
export const mediaTypePattern = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/;

/** Remembered answers per Content-Type value; a route sees few distinct ones. */
const MEMO_LIMIT = 256;

export class CompressibleTypes {
  readonly #exact: ReadonlySet<string>;
  /** `text/` for `text/*`. */
  readonly #prefixes: readonly string[];
  readonly #memo = new Map<string, boolean>();

  /** `patterns` must match `mediaTypePattern` (checked when the config is loaded). */
  constructor(patterns: readonly string[]) {
    this.#exact = new Set(patterns.filter((p) => !p.endsWith('/*')));
    this.#prefixes = patterns.filter((p) => p.endsWith('/*')).map((p) => p.slice(0, -1));
  }

  /** True when a body of this Content-Type value (parameters allowed) should be compressed. */
  includes(contentType: string | undefined): boolean {
    if (contentType === undefined) return false;
    const known = this.#memo.get(contentType);
    if (known !== undefined) return known;
    const answer = this.#decide(mediaType(contentType));
    if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear();
    this.#memo.set(contentType, answer);
    return answer;
  }

  #decide(type: string): boolean {
    if (type === 'text/event-stream') return false;
    if (this.#exact.has(type)) return true;
    for (const prefix of this.#prefixes) if (type.startsWith(prefix)) return true;
    return false;
  }
}

/** `Text/HTML; charset=utf-8` -> `text/html`. */
export function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}
