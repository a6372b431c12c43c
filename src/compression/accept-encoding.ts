/**
 * `Accept-Encoding` negotiation (RFC 9110 12.5.3): which of the codings warpdrive
 * offers a client takes, q-values, `*` and `identity` included.
 *
 * Rules, in the order they apply:
 * - no header: identity (a client that says nothing gets what it surely reads,
 *   as nginx and Caddy do, although the RFC would allow any coding);
 * - a coding's weight is its own entry's q, else the `*` entry's q, else 0
 *   (a coding the client does not name is not acceptable);
 * - `x-gzip` counts as `gzip` (RFC 9110 8.4.1.3);
 * - the offered coding with the highest q > 0 wins, ties going to the server's
 *   order (the `compression` setting, br before gzip by default); an explicit
 *   `identity;q=` above that q keeps the body as it is;
 * - when nothing offered is acceptable, even with `identity;q=0`, the body goes
 *   out unencoded: RFC 9110 says a server SHOULD then send no content coding, and a
 *   proxy cannot answer 406 for a body its upstream produced;
 * - a malformed q-value counts as 0, so a garbled header never switches compression on.
 *
 * The parser walks the string with charCodeAt and allocates nothing; the negotiator
 * remembers the last header it saw, because a browser sends the same one every time.
 *
 * @module
 */

/** The content codings warpdrive can produce. */
export const enum ContentCoding {
  Identity = 0,
  Gzip = 1,
  Brotli = 2,
}

/** The token for `Content-Encoding` and the TOML `compression` list. */
export function codingToken(coding: ContentCoding): string {
  return coding === ContentCoding.Gzip ? 'gzip' : coding === ContentCoding.Brotli ? 'br' : 'identity';
}

/** The coding for a TOML `compression` entry ("gzip", "br"), or undefined. */
export function codingFromToken(token: string): ContentCoding | undefined {
  return token === 'gzip' ? ContentCoding.Gzip : token === 'br' ? ContentCoding.Brotli : undefined;
}

/** q-values in thousandths (q=0.5 is 500); -1 = the header does not name it. */
interface Weights {
  gzip: number;
  br: number;
  identity: number;
  star: number;
}

const NOT_LISTED = -1;

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

/** True when `text[start, end)` equals the lowercase ASCII `word`, ignoring case. */
function tokenIs(text: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if ((text.charCodeAt(start + i) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * A qvalue (RFC 9110 12.4.2: `0[.ddd]` or `1[.000]`) in thousandths, or 0 when it
 * is malformed.
 */
function parseQ(text: string, start: number, end: number): number {
  if (start >= end) return 0;
  const first = text.charCodeAt(start);
  if (first !== 48 && first !== 49) return 0; // '0' or '1'
  let value = (first - 48) * 1000;
  if (start + 1 === end) return value;
  if (text.charCodeAt(start + 1) !== 46 /* . */ || end - start > 5) return 0;
  let scale = 100;
  for (let i = start + 2; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return 0;
    value += digit * scale;
    scale /= 10;
  }
  return value > 1000 ? 0 : value;
}

/** Fills `weights` from one header value. */
function readWeights(header: string, weights: Weights): void {
  weights.gzip = weights.br = weights.identity = weights.star = NOT_LISTED;
  const length = header.length;
  let i = 0;
  while (i < length) {
    // Skip separators and spaces before a coding.
    let code = header.charCodeAt(i);
    if (code === 44 /* , */ || isSpace(code)) {
      i++;
      continue;
    }
    const tokenStart = i;
    while (i < length) {
      code = header.charCodeAt(i);
      if (code === 44 || code === 59 /* ; */ || isSpace(code)) break;
      i++;
    }
    const tokenEnd = i;
    let q = 1000;
    // Parameters: `;q=0.5`, others ignored, up to the next comma.
    while (i < length && header.charCodeAt(i) !== 44) {
      code = header.charCodeAt(i);
      if (code !== 59) {
        i++;
        continue;
      }
      i++;
      while (i < length && isSpace(header.charCodeAt(i))) i++;
      const nameStart = i;
      while (i < length && header.charCodeAt(i) !== 61 /* = */ && header.charCodeAt(i) !== 44 && header.charCodeAt(i) !== 59) i++;
      let nameEnd = i;
      while (nameEnd > nameStart && isSpace(header.charCodeAt(nameEnd - 1))) nameEnd--;
      if (i >= length || header.charCodeAt(i) !== 61) continue;
      i++;
      while (i < length && isSpace(header.charCodeAt(i))) i++;
      const valueStart = i;
      while (i < length && header.charCodeAt(i) !== 44 && header.charCodeAt(i) !== 59 && !isSpace(header.charCodeAt(i))) i++;
      if (tokenIs(header, nameStart, nameEnd, 'q')) q = parseQ(header, valueStart, i);
    }
    if (tokenIs(header, tokenStart, tokenEnd, 'gzip') || tokenIs(header, tokenStart, tokenEnd, 'x-gzip')) weights.gzip = Math.max(weights.gzip, q);
    else if (tokenIs(header, tokenStart, tokenEnd, 'br')) weights.br = Math.max(weights.br, q);
    else if (tokenIs(header, tokenStart, tokenEnd, 'identity')) weights.identity = Math.max(weights.identity, q);
    else if (tokenIs(header, tokenStart, tokenEnd, '*')) weights.star = Math.max(weights.star, q);
  }
}

/** Picks among the codings warpdrive offers, for one client's Accept-Encoding. */
export class EncodingNegotiator {
  /** Offered codings, most preferred first. */
  readonly offered: readonly ContentCoding[];
  readonly #weights: Weights = { gzip: NOT_LISTED, br: NOT_LISTED, identity: NOT_LISTED, star: NOT_LISTED };
  #lastHeader: string | undefined = undefined;
  #lastChoice: ContentCoding = ContentCoding.Identity;

  constructor(offered: readonly ContentCoding[]) {
    this.offered = offered;
  }

  /** The coding to use for a response to a request with this Accept-Encoding value. */
  choose(header: string | undefined): ContentCoding {
    if (header === undefined || this.offered.length === 0) return ContentCoding.Identity;
    if (header === this.#lastHeader) return this.#lastChoice;
    const choice = this.#negotiate(header);
    this.#lastHeader = header;
    this.#lastChoice = choice;
    return choice;
  }

  #negotiate(header: string): ContentCoding {
    const weights = this.#weights;
    readWeights(header, weights);
    let best: ContentCoding = ContentCoding.Identity;
    let bestQ = 0;
    for (const coding of this.offered) {
      const own = coding === ContentCoding.Gzip ? weights.gzip : weights.br;
      const q = own !== NOT_LISTED ? own : weights.star !== NOT_LISTED ? weights.star : 0;
      if (q > bestQ) {
        best = coding;
        bestQ = q;
      }
    }
    // Only an explicit identity weight can outrank a coding the client accepts.
    if (best !== ContentCoding.Identity && weights.identity > bestQ) return ContentCoding.Identity;
    return best;
  }
}
