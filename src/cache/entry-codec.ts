/**
 * Stored responses as bytes, for the Redis tier: `WD1`, a 4-byte big-endian
 * length, that many bytes of JSON metadata (status, headers, validators,
 * freshness as absolute times), then the body as it is. Nodes sharing a Redis
 * read each other's entries, so the format is versioned by its prefix; an
 * entry of another version (or garbage) reads as a miss.
 *
 * Absolute times assume the nodes' clocks agree (NTP), as any shared cache with
 * expiry does.
 *
 * @module
 */
import { CachedResponse } from './cached-response.js';

const MAGIC = Buffer.from('WD1');
const HEADER_BYTES = MAGIC.length + 4;

interface Meta {
  readonly k: string;
  readonly h: string;
  readonly p: string;
  readonly q: string;
  readonly vn: readonly string[] | null;
  readonly vv: readonly string[] | null;
  readonly s: number;
  readonly st: string;
  readonly hd: readonly string[];
  readonly e: string | null;
  /** null for NaN (no Last-Modified). */
  readonly lm: number | null;
  readonly d: number;
  readonly t: readonly string[];
  readonly rt: number;
  readonly ia: number;
  /** null for -Infinity (no-cache: never fresh). */
  readonly sa: number | null;
  readonly sw: number | null;
  readonly si: number | null;
  readonly ra: boolean;
  readonly oh: readonly string[];
}

const finiteOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function encodeEntry(entry: CachedResponse): Buffer {
  const meta: Meta = {
    k: entry.key,
    h: entry.host,
    p: entry.path,
    q: entry.query,
    vn: entry.varyNames ?? null,
    vv: entry.varyValues ?? null,
    s: entry.status,
    st: entry.statusText,
    hd: entry.headers,
    e: entry.etag ?? null,
    lm: finiteOrNull(entry.lastModifiedMs),
    d: entry.dateMs,
    t: entry.tags,
    rt: entry.responseTimeMs,
    ia: entry.initialAgeMs,
    sa: finiteOrNull(entry.staleAtMs),
    sw: finiteOrNull(entry.swrUntilMs),
    si: finiteOrNull(entry.sieUntilMs),
    ra: entry.revalidateAlways,
    oh: entry.omittedHeaders,
  };
  const json = Buffer.from(JSON.stringify(meta));
  const out = Buffer.allocUnsafe(HEADER_BYTES + json.length + entry.body.length);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(json.length, MAGIC.length);
  json.copy(out, HEADER_BYTES);
  entry.body.copy(out, HEADER_BYTES + json.length);
  return out;
}

/** The entry in `bytes`, or undefined when they are not an entry of this version. */
export function decodeEntry(bytes: Buffer): CachedResponse | undefined {
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const jsonLength = bytes.readUInt32BE(MAGIC.length);
  if (HEADER_BYTES + jsonLength > bytes.length) return undefined;
  let meta: Meta;
  try {
    meta = JSON.parse(bytes.subarray(HEADER_BYTES, HEADER_BYTES + jsonLength).toString()) as Meta;
  } catch {
    return undefined;
  }
  // A copy, so the entry does not keep the whole reply buffer alive and its size is exact.
  const body = Buffer.from(bytes.subarray(HEADER_BYTES + jsonLength));
  return new CachedResponse({
    key: meta.k,
    host: meta.h,
    path: meta.p,
    query: meta.q,
    varyNames: meta.vn ?? undefined,
    varyValues: meta.vv ?? undefined,
    status: meta.s,
    statusText: meta.st,
    headers: meta.hd,
    body,
    etag: meta.e ?? undefined,
    lastModifiedMs: meta.lm ?? NaN,
    dateMs: meta.d,
    tags: meta.t,
    responseTimeMs: meta.rt,
    initialAgeMs: meta.ia,
    staleAtMs: meta.sa ?? -Infinity,
    swrUntilMs: meta.sw ?? -Infinity,
    sieUntilMs: meta.si ?? -Infinity,
    revalidateAlways: meta.ra,
    omittedHeaders: meta.oh,
  });
}
