/**
 * The `Range` header (RFC 9110 14.2) against a body of known size.
 *
 * - Only the `bytes` unit; anything else, or a malformed header, is ignored (the
 *   whole body is sent with 200), as the RFC allows.
 * - `first-last`, `first-` and `-suffix` ranges; a `last` beyond the end is cut
 *   to the end.
 * - None of the ranges satisfiable: 416 with `Content-Range: bytes *\/size`.
 * - Several ranges are served as multipart/byteranges when they are at most
 *   MAX_RANGES, in ascending order and not overlapping; otherwise the header is
 *   ignored (RFC 9110 14.2 lets a server ignore ranges that look like an attack:
 *   many small or overlapping pieces of one file).
 *
 * @module
 */

/** One byte range, `start` to `end` inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export const MAX_RANGES = 16;
/** A longer Range header is ignored before it is split (no legitimate client sends one). */
const MAX_HEADER_LENGTH = 1024;

/** The header asks for nothing this body has: answer 416. */
export const UNSATISFIABLE = 'unsatisfiable';

/**
 * The ranges to serve, `UNSATISFIABLE`, or undefined when the header is to be
 * ignored (send the whole body).
 */
export function parseRange(header: string, size: number): readonly ByteRange[] | typeof UNSATISFIABLE | undefined {
  if (header.length > MAX_HEADER_LENGTH) return undefined;
  const equals = header.indexOf('=');
  if (equals < 0 || header.slice(0, equals).trim().toLowerCase() !== 'bytes') return undefined;
  const specs = header.slice(equals + 1).split(',');
  const ranges: ByteRange[] = [];
  let sawAny = false;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue; // "bytes=0-1,,2-3": empty list elements are allowed
    sawAny = true;
    const dash = spec.indexOf('-');
    if (dash < 0) return undefined;
    const firstText = spec.slice(0, dash).trim();
    const lastText = spec.slice(dash + 1).trim();
    if (firstText === '') {
      // Suffix range: the last N bytes.
      const suffix = digits(lastText);
      if (suffix === undefined) return undefined;
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const first = digits(firstText);
    if (first === undefined) return undefined;
    let last: number;
    if (lastText === '') last = size - 1;
    else {
      const parsed = digits(lastText);
      if (parsed === undefined || parsed < first) return undefined;
      last = Math.min(parsed, size - 1);
    }
    if (first < size) ranges.push({ start: first, end: last });
  }
  if (!sawAny) return undefined;
  if (ranges.length === 0) return UNSATISFIABLE;
  if (ranges.length > MAX_RANGES) return undefined;
  for (let i = 1; i < ranges.length; i++) if (ranges[i]!.start <= ranges[i - 1]!.end) return undefined;
  return ranges;
}

/** A non-negative decimal integer, or undefined (no signs, no spaces inside, safe size). */
function digits(text: string): number | undefined {
  if (text === '' || text.length > 15) return undefined;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return undefined;
  }
  return Number(text);
}
