/**
 * Comma-separated header lists (RFC 9110 5.6.1) read without splitting them:
 * `Cache-Control: public, no-transform`, `Vary: Cookie, Accept-Encoding`.
 *
 * @module
 */

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * True when the list `value` has an element equal to `token` (lowercase ASCII),
 * ignoring case and a `=argument` after the token (`max-age=0` has `max-age`).
 */
export function hasListToken(value: string, token: string): boolean {
  const length = value.length;
  let i = 0;
  while (i < length) {
    while (i < length && (isSpace(value.charCodeAt(i)) || value.charCodeAt(i) === 44)) i++;
    let j = 0;
    while (j < token.length && i + j < length && (value.charCodeAt(i + j) | 0x20) === token.charCodeAt(j)) j++;
    if (j === token.length) {
      const next = i + j;
      if (next === length) return true;
      const code = value.charCodeAt(next);
      if (code === 44 || code === 61 /* = */ || code === 59 /* ; */ || isSpace(code)) {
        // Trailing spaces before the next comma are allowed; anything else is a longer token.
        let k = next;
        while (k < length && isSpace(value.charCodeAt(k))) k++;
        if (k === length || value.charCodeAt(k) === 44 || value.charCodeAt(k) === 61 || value.charCodeAt(k) === 59) return true;
      }
    }
    // Skip to the element after the next comma (quoted strings with commas are not
    // expected in the lists read here: Cache-Control arguments are tokens or quoted
    // field names, and a false split can only add a spurious element, never hide one).
    while (i < length && value.charCodeAt(i) !== 44) i++;
  }
  return false;
}
