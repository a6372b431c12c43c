/**
 * The access log's two line formats (`[middleware] log_format`):
 *
 * - `combined`: nginx's default `combined` format, so existing tools (GoAccess,
 *   log shippers' nginx parsers) read the first part, followed by warpdrive's
 *   fields as `key=value` pairs:
 *
 *       127.0.0.1 - - [02/Dec/2026:09:02:05 +0000] "GET /orders?page=2 HTTP/1.1" 200 1532 "https://shop.example/" "Mozilla/5.0 ..." host=shop.example rt=0.004 urt=0.003 route=2 rid=1f3a9c0e2b7d-4 upstream=rails instance=rails#1 thread=0
 *
 *   `rt` is the request's time in seconds (nginx's `$request_time`), `urt` the
 *   upstream's (`$upstream_response_time`: from the first connect attempt to the
 *   end of its response), `route` the 1-based route, `rid` the X-Request-Id.
 *   Time is UTC. Quoted fields escape `"`, `\` and control bytes as `\xHH`, as nginx does.
 * - `json`: one JSON object per line with the same fields, named.
 *
 * Fields nothing fills are `-` (combined) or null (json).
 *
 * @module
 */
import type { Exchange } from '../pipeline/exchange.js';

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `[02/Dec/2026:09:02:05 +0000]`, made once per second (lines in the same second share it). */
let cachedSecond = -1;
let cachedTime = '';
function combinedTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    const d = new Date(second * 1000);
    cachedTime = `[${two(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
    cachedSecond = second;
  }
  return cachedTime;
}

const needsEscape = /["\\\x00-\x1f\x7f-\xff]/;

/** nginx's escaping inside quoted fields: `"`, `\`, control and non-ASCII bytes as `\xHH`. */
export function escapeQuoted(text: string): string {
  if (!needsEscape.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte === 0x22 || byte === 0x5c || byte < 0x20 || byte >= 0x7f ? `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

/** A `key=value` value: no spaces or quotes, so the line splits on spaces. */
function bare(text: string): string {
  return text === '' ? '-' : /[\s"]/.test(text) ? escapeQuoted(text).replace(/ /g, '\\x20') : text;
}

/** Milliseconds the upstream took (first attempt to end of response), or undefined if none answered. */
export function upstreamMs(x: Exchange): number | undefined {
  return x.upstreamStartedAt !== 0 && x.upstreamEndedAt !== 0 ? x.upstreamEndedAt - x.upstreamStartedAt : undefined;
}

function target(x: Exchange): string {
  return x.query === '' ? x.path : `${x.path}?${x.query}`;
}

/** The `combined` line for `x`, ended at `now` (performance.now()) and `epochMs`. */
export function formatCombined(x: Exchange, now: number, epochMs: number): string {
  const referer = x.get('referer');
  const agent = x.get('user-agent');
  const upstream = upstreamMs(x);
  const route = x.route;
  return (
    `${x.clientIp || '-'} - - ${combinedTime(epochMs)} "${escapeQuoted(x.method)} ${escapeQuoted(target(x))} HTTP/1.1" ${x.status} ${x.sink.bytesSent} ` +
    `"${referer === undefined ? '-' : escapeQuoted(referer)}" "${agent === undefined ? '-' : escapeQuoted(agent)}" ` +
    `host=${bare(x.host)} rt=${((now - x.startedAt) / 1000).toFixed(3)} urt=${upstream === undefined ? '-' : (upstream / 1000).toFixed(3)} ` +
    `route=${route === undefined ? '-' : route.spec.index + 1} rid=${x.requestId === '' ? '-' : bare(x.requestId)} ` +
    `upstream=${route?.spec.upstream ?? '-'} instance=${x.lastInstance?.id ?? '-'} thread=${x.thread}`
  );
}

/** The `json` line for `x`. */
export function formatJson(x: Exchange, now: number, epochMs: number): string {
  const upstream = upstreamMs(x);
  const route = x.route;
  return JSON.stringify({
    time: new Date(epochMs).toISOString(),
    client: x.clientIp || null,
    method: x.method,
    host: x.host || null,
    path: x.path,
    query: x.query || null,
    status: x.status,
    bytes: x.sink.bytesSent,
    duration_ms: Math.round((now - x.startedAt) * 1000) / 1000,
    upstream: route?.spec.upstream ?? null,
    instance: x.lastInstance?.id ?? null,
    upstream_ms: upstream === undefined ? null : Math.round(upstream * 1000) / 1000,
    route: route === undefined ? null : route.spec.index + 1,
    request_id: x.requestId || null,
    user_agent: x.get('user-agent') ?? null,
    referer: x.get('referer') ?? null,
    thread: x.thread,
  });
}
