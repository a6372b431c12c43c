/**
 * The request headers the cache decides on, read in one pass over the flat
 * header list (names are lowercase there) instead of one search per header.
 *
 * @module
 */
import { parseCacheControl } from './cache-control.js';

/** Why a GET/HEAD is not answered from the cache (Cache-Status `fwd=bypass; detail=...`). */
export type BypassReason = 'range' | 'precondition';

export class RequestHeaderFacts {
  ifNoneMatch: string | undefined = undefined;
  ifModifiedSince: string | undefined = undefined;
  hasAuthorization = false;
  /** Request Cache-Control: no-store (the response is not stored). */
  noStore = false;
  /** Request Cache-Control: only-if-cached (answer 504 rather than go upstream). */
  onlyIfCached = false;
  bypass: BypassReason | undefined = undefined;

  reset(): void {
    this.ifNoneMatch = undefined;
    this.ifModifiedSince = undefined;
    this.hasAuthorization = false;
    this.noStore = false;
    this.onlyIfCached = false;
    this.bypass = undefined;
  }
}

/**
 * Fills `facts` from `headers`. Request Cache-Control is honoured for `no-store`
 * and `only-if-cached` only: like nginx and Varnish, warpdrive ignores a
 * client's `no-cache` and `max-age=0` (a browser's reload button would
 * otherwise send every reload to the application).
 */
export function readRequestFacts(headers: readonly string[], facts: RequestHeaderFacts): RequestHeaderFacts {
  facts.reset();
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Dispatch on the first letter: most headers are rejected by one comparison.
    switch (name.charCodeAt(0)) {
      case 0x69 /* i */:
        if (name === 'if-none-match') facts.ifNoneMatch = facts.ifNoneMatch === undefined ? headers[i + 1] : `${facts.ifNoneMatch}, ${headers[i + 1]}`;
        else if (name === 'if-modified-since') facts.ifModifiedSince ??= headers[i + 1];
        else if (name === 'if-match' || name === 'if-unmodified-since' || name === 'if-range') facts.bypass ??= 'precondition';
        break;
      case 0x72 /* r */:
        if (name === 'range') facts.bypass = 'range';
        break;
      case 0x61 /* a */:
        if (name === 'authorization') facts.hasAuthorization = true;
        break;
      case 0x63 /* c */:
        if (name === 'cache-control') {
          const directives = parseCacheControl([headers[i + 1]!]);
          if (directives.noStore) facts.noStore = true;
          if (directives.onlyIfCached) facts.onlyIfCached = true;
        }
        break;
    }
  }
  return facts;
}
