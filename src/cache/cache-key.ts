/**
 * Cache keys: the primary key of a request is its scheme, host and path with
 * query (RFC 9111 2: the target URI; the method is always GET, since only GET
 * responses are stored and HEAD is answered from them). Vary adds a secondary
 * key on top (vary.ts).
 *
 * Query parameters named in `[cache] ignore_query_params` (exact names, or
 * prefixes written `utm_*`) are left out, so `/?utm_source=a` and `/` share an
 * entry. The remaining parameters keep their order: reordering them could merge
 * URLs an application tells apart. The host is the request's, lowercased and
 * without port, as the router sees it.
 *
 * @module
 */

/** Built once from `[cache] ignore_query_params`. */
export class QueryFilter {
  readonly #names: readonly string[];
  readonly #prefixes: readonly string[];
  /** False when nothing is ignored: `filter` then returns its input untouched. */
  readonly active: boolean;

  constructor(ignore: { readonly names: readonly string[]; readonly prefixes: readonly string[] }) {
    this.#names = [...ignore.names];
    this.#prefixes = [...ignore.prefixes];
    this.active = this.#names.length > 0 || this.#prefixes.length > 0;
  }

  /** Whether the parameter spanning query[start, end) is ignored; compares in place, allocating nothing. */
  #ignores(query: string, start: number, end: number): boolean {
    let nameEnd = query.indexOf('=', start);
    if (nameEnd < 0 || nameEnd > end) nameEnd = end;
    for (const name of this.#names) {
      if (start + name.length === nameEnd && query.startsWith(name, start)) return true;
    }
    for (const prefix of this.#prefixes) {
      if (start + prefix.length <= nameEnd && query.startsWith(prefix, start)) return true;
    }
    return false;
  }

  /** `query` (without `?`) minus the ignored parameters; the same string when none is present. */
  filter(query: string): string {
    if (!this.active || query === '') return query;
    // Built only once a parameter is dropped; until then the input is the answer.
    let kept: string | undefined;
    let start = 0;
    while (start <= query.length) {
      let end = query.indexOf('&', start);
      if (end < 0) end = query.length;
      if (this.#ignores(query, start, end)) {
        kept ??= start === 0 ? '' : query.slice(0, start - 1);
      } else if (kept !== undefined) {
        kept = kept === '' ? query.slice(start, end) : `${kept}&${query.slice(start, end)}`;
      }
      start = end + 1;
    }
    return kept ?? query;
  }
}

/** The primary cache key: `scheme://host/path[?query]` (query already filtered). */
export function primaryKey(scheme: string, host: string, path: string, query: string): string {
  return query === '' ? `${scheme}://${host}${path}` : `${scheme}://${host}${path}?${query}`;
}
