/**
 * The request's host as the router compares it: lowercase, without port, without
 * the trailing dot of an absolute domain name (`Example.COM.:8080` ->
 * `example.com`), so one host has one spelling. An IPv6 literal keeps its brackets
 * (`[::1]:8080` -> `[::1]`).
 *
 * @module
 */

// Characters allowed in a host (reg-name, IPv4, IPv6 literal, port), indexed by
// char code: one typed-array load per character.
const allowed = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]%") allowed[ch.charCodeAt(0)] = 1;

/**
 * `raw` is the Host header (or the authority of an absolute-form target); returns
 * its canonical form, '' for an absent/empty host, or undefined when it holds
 * characters no host may contain (answer 400). Returns `raw` itself, without
 * allocating, when it is already canonical.
 */
export function normalizeHost(raw: string): string | undefined {
  let end = raw.length;
  let hasUpper = false;
  let lastColon = -1;
  let colons = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code >= 128 || allowed[code] === 0) return undefined;
    if (code >= 65 && code <= 90) hasUpper = true;
    else if (code === 58 /* : */) {
      lastColon = i;
      colons++;
    }
  }
  const isIpv6 = raw.charCodeAt(0) === 91; /* [ */
  if (isIpv6) {
    const close = raw.indexOf(']');
    if (close < 0) return undefined;
    // After ']' only ":port" may follow.
    if (close + 1 < raw.length && !isPort(raw, close + 1)) return undefined;
    end = close + 1;
  } else if (raw.includes('[') || raw.includes(']')) {
    return undefined; // brackets only enclose an IPv6 literal
  } else if (lastColon >= 0) {
    // Outside brackets the only colon is the port separator.
    if (colons > 1 || !isPort(raw, lastColon)) return undefined;
    end = lastColon;
  }
  if (!isIpv6 && end > 1 && raw.charCodeAt(end - 1) === 46 /* . */) end--;
  if (end === raw.length && !hasUpper) return raw;
  const host = raw.slice(0, end);
  return hasUpper ? host.toLowerCase() : host;
}

/** True when raw[colon..] is ':' followed by zero or more digits. */
function isPort(raw: string, colon: number): boolean {
  if (raw.charCodeAt(colon) !== 58) return false;
  for (let i = colon + 1; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}
