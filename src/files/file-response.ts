/**
 * The response to a request for a file, decided before any byte is read: status,
 * headers, length and which parts of the file make the body.
 *
 * - Preconditions first (conditional.ts): 304 or 412.
 * - Then `Range` (byte-ranges.ts), honoured for GET only and when `If-Range`
 *   allows: 206 with one range, 206 `multipart/byteranges` with several, 416 when
 *   none is satisfiable; otherwise 200 with the whole file.
 * - HEAD gets the head GET would get, and no body.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { parseRange, UNSATISFIABLE, type ByteRange } from './byte-ranges.js';
import { evaluatePreconditions, ifRangeAllows, Precondition, type RequestHeaders, type Validators } from './conditional.js';

/** What the response describes: one file, or one precompressed variant of it. */
export interface FileRepresentation {
  readonly size: number;
  readonly contentType: string;
  readonly validators: Validators;
}

/** A piece of the body: bytes of the file (inclusive range) or literal bytes (multipart framing). */
export type BodyPart = ByteRange | Buffer;

export interface FileResponse {
  readonly status: 200 | 206 | 304 | 412 | 416;
  /** Flat `[name, value, ...]`, lowercase names; never Content-Length (see contentLength). */
  readonly headers: readonly string[];
  /** The body's length; for HEAD, the length GET would send. */
  readonly contentLength: number;
  /** What to send, in order; empty for HEAD and for 304/412/416. */
  readonly parts: readonly BodyPart[];
}

export interface FileResponseExtras {
  /** Sent with 200, 206 and 304 (RFC 9110 15.4.5): Cache-Control, Vary. */
  readonly cacheHeaders: readonly string[];
  /** Sent with 200 and 206 only: Content-Encoding of a precompressed variant. */
  readonly representationHeaders: readonly string[];
}

export const NO_EXTRAS: FileResponseExtras = Object.freeze({ cacheHeaders: [], representationHeaders: [] });

/** One boundary per process: 24 random hex digits cannot be guessed into a file's bytes. */
const BOUNDARY = `warpdrive-${randomBytes(12).toString('hex')}`;

const NO_PARTS: readonly BodyPart[] = Object.freeze([]);

export function buildFileResponse(method: string, headers: RequestHeaders, file: FileRepresentation, extras: FileResponseExtras = NO_EXTRAS): FileResponse {
  const { validators } = file;
  const isHead = method === 'HEAD';
  const precondition = evaluatePreconditions(method, headers, validators);
  if (precondition === Precondition.NotModified) {
    return { status: 304, headers: ['etag', validators.etag, 'last-modified', validators.lastModified, ...extras.cacheHeaders], contentLength: 0, parts: NO_PARTS };
  }
  if (precondition === Precondition.Failed) return { status: 412, headers: [], contentLength: 0, parts: NO_PARTS };

  const common = [
    'last-modified', validators.lastModified,
    'etag', validators.etag,
    'accept-ranges', 'bytes',
    ...extras.cacheHeaders,
    ...extras.representationHeaders,
  ];
  const rangeHeader = method === 'GET' || isHead ? headers.get('range') : undefined;
  const ranges = rangeHeader !== undefined && ifRangeAllows(headers, validators) ? parseRange(rangeHeader, file.size) : undefined;

  if (ranges === UNSATISFIABLE) {
    return { status: 416, headers: ['content-range', `bytes */${file.size}`], contentLength: 0, parts: NO_PARTS };
  }
  if (ranges === undefined) {
    const parts = isHead || file.size === 0 ? NO_PARTS : [{ start: 0, end: file.size - 1 }];
    return { status: 200, headers: ['content-type', file.contentType, ...common], contentLength: file.size, parts };
  }
  if (ranges.length === 1) {
    const range = ranges[0]!;
    return {
      status: 206,
      headers: ['content-type', file.contentType, 'content-range', `bytes ${range.start}-${range.end}/${file.size}`, ...common],
      contentLength: range.end - range.start + 1,
      parts: isHead ? NO_PARTS : ranges,
    };
  }
  const parts: BodyPart[] = [];
  let length = 0;
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i]!;
    const partHead = Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${BOUNDARY}\r\ncontent-type: ${file.contentType}\r\ncontent-range: bytes ${range.start}-${range.end}/${file.size}\r\n\r\n`,
      'latin1',
    );
    parts.push(partHead, range);
    length += partHead.length + range.end - range.start + 1;
  }
  const closing = Buffer.from(`\r\n--${BOUNDARY}--\r\n`, 'latin1');
  parts.push(closing);
  length += closing.length;
  return {
    status: 206,
    headers: ['content-type', `multipart/byteranges; boundary=${BOUNDARY}`, ...common],
    contentLength: length,
    parts: isHead ? NO_PARTS : parts,
  };
}
