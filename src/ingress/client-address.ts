/**
 * The client's address as people write it.
 *
 * uWS reports peer addresses as text, in full IPv6 form when listening on a
 * dual-stack socket (`0000:...:ffff:7f00:0001` for 127.0.0.1). X-Forwarded-For,
 * logs, trusted-proxy checks and ip_hash want the usual forms: dotted IPv4 for
 * IPv4-mapped addresses and RFC 5952 compressed IPv6 otherwise.
 *
 * @module
 */

const MAPPED_PREFIX = '0000:0000:0000:0000:0000:ffff:';
const textDecoder = new TextDecoder();

/** Decodes uWS's `getRemoteAddressAsText()` result into a canonical address string. */
export function formatRemoteAddress(raw: ArrayBuffer): string {
  const text = textDecoder.decode(raw);
  if (text.length !== 39) return text; // already IPv4 text (or empty for Unix sockets)
  if (text.startsWith(MAPPED_PREFIX)) {
    const high = parseInt(text.slice(30, 34), 16);
    const low = parseInt(text.slice(35, 39), 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return compressIpv6(text.split(':').map((group) => parseInt(group, 16)));
}

/** RFC 5952: lowercase hex, no leading zeros, the longest run (>=2) of zero groups as `::`. */
export function compressIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
