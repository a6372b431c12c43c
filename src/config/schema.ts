/**
 * The shape of `warpdrive.toml`, as valibot schemas: types, ranges, defaults and
 * single-key formats. Checks that involve more than one key (a route naming a
 * real upstream, socket versus host/port...) live in `checks.ts`.
 *
 * Every message follows one pattern, "expected X, found Y" plus a fix where one
 * is obvious, so `ConfigError` reads the same whichever check fired.
 *
 * @module
 */

import * as v from 'valibot';
import { describeValue, didYouMean } from './errors.js';
import { httpToken, isBindAddress, isHostPattern, isIpOrCidr, isSafeHeaderValue, isUpstreamHost, parseAdminListen, parseStatusRange } from './addresses.js';
import { fileMiddlewareEntries, staticRouteEntries } from './file-settings.js';
import { boolean, expect, integer, regexError, table, text } from './schema-parts.js';

/** Durations are written in seconds (fractions allowed) and become ms in compile(). */
function seconds(allowZero = false) {
  const what = allowZero ? 'a number of seconds >= 0' : 'a number of seconds > 0';
  const message = expect(what);
  return v.pipe(v.number(message), v.finite(message), allowZero ? v.minValue(0, message) : v.gtValue(0, message));
}

const listenPort = integer(0, 65535, 'a port number 0-65535 (0 = any free port)');
const port = integer(1, 65535, 'a port number 1-65535');

/** URL paths the router compares against: must start with "/". */
function urlPath(what: string) {
  return v.pipe(
    v.string(expect(`${what} (a string starting with "/")`)),
    v.startsWith('/', expect(`${what} starting with "/"`, (input) => `write "/${String(input)}"`)),
  );
}

const stringList = (what: string) => v.array(text(what), expect(`an array of ${what}s`));

// ---------------------------------------------------------------------------
// [server]

export const ServerSchema = table(
  {
    http_port: v.optional(listenPort, 8080),
    https_port: v.optional(listenPort),
    bind_address: v.optional(
      v.pipe(v.string(expect('an IP address')), v.check(isBindAddress, expect('an IP address such as "0.0.0.0", "127.0.0.1" or "::"'))),
      '0.0.0.0',
    ),
    // "auto": one proxy thread per CPU, as nginx's `worker_processes auto` (resolved in compile.ts).
    worker_threads: v.optional(
      v.union([v.literal('auto'), integer(1, 256, 'a whole number of threads 1-256')], expect('a whole number of threads 1-256, or "auto" (one per CPU)')),
      1,
    ),
    max_header_bytes: v.optional(integer(1024, 1048576, 'a byte count 1024-1048576'), 16384),
    max_body_bytes: v.optional(integer(1, Number.MAX_SAFE_INTEGER, 'a positive byte count', 'remove the key for no limit')),
    shutdown_timeout_secs: v.optional(seconds(true), 30),
    // "reject": 411 for chunked request bodies, whose framing this uWS build parses leniently (docs/security.md).
    request_body_chunked: v.optional(
      v.picklist(['accept', 'reject'], expect('"accept" or "reject"', 'request_body_chunked = "reject" answers 411 Length Required to chunked uploads')),
      'accept',
    ),
    idle_timeout_secs: v.optional(seconds(), 10),
    // uWS holds a whole WebSocket message in memory before handing it over, so the cap is mandatory.
    websocket_max_message_bytes: v.optional(integer(1024, 1073741824, 'a byte count 1024-1073741824 (1 GiB)'), 16777216),
    // The total held for WebSocket clients that read slower than their upstreams send (websocket/gateway.ts).
    websocket_max_buffered_bytes: v.optional(integer(1048576, Number.MAX_SAFE_INTEGER, 'a byte count of at least 1048576 (1 MiB)'), 268435456),
    // uWS counts idle time in whole seconds with ~4 s granularity and rejects 1-7; 0 disables.
    websocket_idle_timeout_secs: v.optional(
      v.pipe(integer(0, 960, 'a whole number of seconds: 0 (off) or 8-960'), v.check((n) => n === 0 || n >= 8, expect('a whole number of seconds: 0 (off) or 8-960'))),
      120,
    ),
  },
  '[server]',
);

// ---------------------------------------------------------------------------
// [tls]

const domainName = v.pipe(
  v.string(expect('a domain name')),
  v.toLowerCase(),
  v.check(isHostPattern, expect('a domain name such as "example.com" (or "*.example.com" in [[tls.certificates]])')),
);

/** The two words `acme_ca` knows; any other value is the CA's directory URL. */
export const acmeCaWords = ['letsencrypt', 'letsencrypt-staging'] as const;

function isHttpsUrl(input: string): boolean {
  try {
    return new URL(input).protocol === 'https:';
  } catch {
    return false;
  }
}

const acmeCa = v.pipe(
  v.string(expect('"letsencrypt", "letsencrypt-staging" or the https:// URL of an ACME directory')),
  v.check(
    (input) => (acmeCaWords as readonly string[]).includes(input) || isHttpsUrl(input),
    expect('"letsencrypt", "letsencrypt-staging" or the https:// URL of an ACME directory', (input) => {
      const word = typeof input === 'string' ? didYouMean(input, acmeCaWords) : '';
      return word === '' ? 'ACME directories are served over https (RFC 8555)' : `write one of the two words${word}`;
    }),
  ),
);

const email = v.pipe(
  v.string(expect('an email address')),
  v.check((input) => /^[^\s@:]+@[^\s@]+\.[^\s@]+$/.test(input), expect('an email address such as "ops@example.com" (without "mailto:")')),
);

export const TlsEabSchema = table(
  {
    kid: text('a key identifier'),
    // RFC 8555 section 7.3.4: the CA hands out the MAC key base64url-encoded.
    hmac_key: v.pipe(
      text('a base64url MAC key'),
      v.check((input) => /^[A-Za-z0-9_-]+={0,2}$/.test(input) && input.length >= 16, expect('the base64url MAC key your CA gave you (letters, digits, "-" and "_", at least 16 characters)')),
    ),
  },
  '[tls.eab]',
);

export const TlsCertificateSchema = table(
  {
    domains: v.pipe(
      v.array(domainName, expect('an array of domain names')),
      v.nonEmpty(expect('at least one domain name', 'list the names this certificate serves, e.g. domains = ["api.example.com"]')),
    ),
    cert_file: text('a file path'),
    key_file: text('a file path'),
  },
  'a [[tls.certificates]] entry',
);

export const TlsSchema = table(
  {
    enabled: v.optional(boolean, false),
    domains: v.optional(v.array(domainName, expect('an array of domain names')), []),
    acme_directory: v.optional(text('a directory path')),
    acme_ca: v.optional(acmeCa),
    email: v.optional(email),
    eab: v.optional(TlsEabSchema),
    cert_file: v.optional(text('a file path')),
    key_file: v.optional(text('a file path')),
    certificates: v.optional(v.array(TlsCertificateSchema, expect('an array of tables ([[tls.certificates]])')), []),
    // Plain-HTTP requests get a 308 to https:// (except ACME challenges and routes with https_redirect = false).
    redirect_http: v.optional(boolean, true),
    // Opt-in: Strict-Transport-Security on HTTPS responses. 0 tells browsers to forget an earlier policy.
    hsts_max_age_secs: v.optional(integer(0, 63072000, 'a whole number of seconds 0-63072000 (two years)')),
    hsts_include_subdomains: v.optional(boolean, false),
  },
  '[tls]',
);

// ---------------------------------------------------------------------------
// [upstreams.NAME]

/** Env values are strings to the child; numbers and booleans are accepted and stringified. */
const envValue = v.pipe(
  v.unknown(),
  v.check(
    (input) => typeof input === 'string' || typeof input === 'number' || typeof input === 'boolean',
    expect('a string value', 'quote it: KEY = "value"'),
  ),
  v.transform((input) => String(input)),
);

export const ProcessSchema = table(
  {
    command: text('a command (program name or path)'),
    args: v.optional(v.array(v.string(expect('a string argument')), expect('an array of strings')), []),
    env: v.optional(v.record(v.string(), envValue, expect('a table of NAME = "value"')), {}),
    cwd: v.optional(text('a directory path')),
    depends_on: v.optional(stringList('upstream name'), []),
    stop_timeout_secs: v.optional(seconds(), 10),
    start_timeout_secs: v.optional(seconds(), 60),
    max_memory_mb: v.optional(integer(1, 1048576, 'a whole number of megabytes > 0')),
  },
  'process',
);

export const HealthSchema = table(
  {
    path: urlPath('a health check path'),
    interval_secs: v.optional(seconds(), 10),
    timeout_secs: v.optional(seconds(), 2),
    unhealthy_threshold: v.optional(integer(1, 1000, 'a whole number >= 1'), 3),
    healthy_threshold: v.optional(integer(1, 1000, 'a whole number >= 1'), 2),
    expected_status: v.optional(
      v.pipe(
        v.union([v.string(), v.number()], expect('a status range string such as "200-399" or "200"')),
        v.check((input) => parseStatusRange(input) !== undefined, expect('a status range such as "200-399" or "200" (100-599, low-high)')),
      ),
      '200-399',
    ),
  },
  'health',
);

export const PassiveSchema = table(
  {
    max_fails: v.optional(integer(0, 1000, 'a whole number >= 0 (0 disables passive ejection)'), 3),
    fail_timeout_secs: v.optional(seconds(), 10),
    max_ejection_secs: v.optional(seconds(), 300),
    count_5xx: v.optional(boolean, false),
  },
  'passive',
);

const host = v.pipe(
  v.string(expect('a host name or IP address')),
  v.check(
    isUpstreamHost,
    expect('a host name or IP address without scheme, port or path', (input) => {
      const found = String(input);
      if (found.includes('://')) return 'drop the scheme: host = "127.0.0.1" (warpdrive speaks HTTP/1.1 to upstreams)';
      if (found.startsWith('[')) return 'drop the brackets: host = "::1"';
      if (found.includes(':') || found.includes('/')) return 'give only the host here and the port in port = 3000';
      return 'for example host = "127.0.0.1"';
    }),
  ),
);
const socket = v.pipe(
  v.string(expect('a Unix socket path')),
  v.nonEmpty(expect('a Unix socket path', 'for example socket = "/tmp/app.sock"')),
);

export const InstanceSchema = table(
  {
    host: v.optional(host),
    port: v.optional(port),
    socket: v.optional(socket),
    weight: v.optional(v.pipe(v.number(expect('a weight > 0')), v.finite(expect('a weight > 0')), v.gtValue(0, expect('a weight > 0'))), 1),
    process: v.optional(ProcessSchema),
  },
  'an instance',
);

export const strategies = ['round_robin', 'least_conn', 'random', 'ip_hash'] as const;

export const UpstreamSchema = table(
  {
    host: v.optional(host),
    port: v.optional(port),
    socket: v.optional(socket),
    instances: v.optional(v.array(InstanceSchema, expect('an array of tables ([[upstreams.NAME.instances]])'))),
    strategy: v.optional(
      v.picklist(strategies, (issue) => {
        const found = typeof issue.input === 'string' ? didYouMean(issue.input, strategies) : '';
        return `expected one of ${strategies.join(', ')}, found ${describeValue(issue.input)}${found}`;
      }),
      'round_robin',
    ),
    health: v.optional(HealthSchema),
    passive: v.optional(PassiveSchema, {}),
    process: v.optional(ProcessSchema),
    connect_timeout_secs: v.optional(seconds(), 5),
    read_timeout_secs: v.optional(seconds(), 60),
    max_connections: v.optional(integer(1, 65536, 'a whole number of connections >= 1'), 256),
    keepalive_timeout_secs: v.optional(seconds(), 4),
    retries: v.optional(integer(0, 10, 'a whole number of retries 0-10'), 1),
  },
  'an upstream',
);

// ---------------------------------------------------------------------------
// [[routes]]


const headerName = v.pipe(
  v.string(expect('a header name')),
  v.regex(httpToken, expect('a header name (letters, digits and !#$%&\'*+.^_`|~-)')),
  v.toLowerCase(),
);

const headerPair = (what: string) =>
  table(
    {
      name: headerName,
      value: v.pipe(v.string(expect('a header value string')), v.check(isSafeHeaderValue, expect('a header value without line breaks or other control characters (tab is allowed)'))),
    },
    what,
  );

/**
 * Headers each hop writes for itself: framing (`content-length`, `transfer-encoding`),
 * hop-by-hop ones (RFC 9110 7.6.1) and `expect`. Set by add_headers they would
 * contradict the request's real framing, or undici would refuse every request of the
 * route when sending it.
 */
const perHopHeaders: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect']);

const addedHeader = v.pipe(
  headerPair('an add_headers entry'),
  v.check(
    (pair) => !perHopHeaders.has(pair.name),
    (issue) =>
      `expected a header that is passed on to the upstream, found "${(issue.input as { name: string }).name}", which warpdrive writes for each hop itself (framing and hop-by-hop headers); fix: remove this add_headers entry`,
  ),
);

export const RouteSchema = table(
  {
    // Optional only on a files-only route (static_root); file-settings.ts says so when both are missing.
    upstream: v.optional(text('an upstream name')),
    host: v.optional(
      v.pipe(
        v.string(expect('a host name')),
        v.toLowerCase(),
        v.check(
          isHostPattern,
          expect('a host name such as "example.com" or "*.example.com" (one leading wildcard, no port)', (input) =>
            String(input).includes(':') ? 'remove the port; hosts are matched without it' : 'use letters, digits, "-" and "." only',
          ),
        ),
      ),
    ),
    path_prefix: v.optional(urlPath('a path prefix')),
    path_exact: v.optional(urlPath('an exact path')),
    path_regex: v.optional(
      v.pipe(
        v.string(expect('a regular expression string')),
        v.check(
          (input) => regexError(input) === undefined,
          (issue) => `expected a valid regular expression, found ${describeValue(issue.input)}: ${regexError(String(issue.input))}`,
        ),
      ),
    ),
    methods: v.optional(
      v.pipe(
        v.array(
          v.pipe(v.string(expect('an HTTP method name')), v.toUpperCase(), v.regex(httpToken, expect('an HTTP method name such as "GET"'))),
          expect('an array of method names such as ["GET", "POST"]'),
        ),
        v.nonEmpty(expect('at least one method', 'list methods or remove the key to match any method')),
      ),
    ),
    header: v.optional(headerPair('header')),
    strip_prefix: v.optional(boolean, false),
    rewrite: v.optional(urlPath('a rewrite path')),
    add_headers: v.optional(v.array(addedHeader, expect('an array of { name, value } tables')), []),
    require_auth: v.optional(boolean, false),
    description: v.optional(v.string(expect('a string'))),
    connect_timeout_secs: v.optional(seconds()),
    read_timeout_secs: v.optional(seconds()),
    request_timeout_secs: v.optional(seconds()),
    // The response cache ([cache]) applies to every route unless a route says cache = false.
    cache: v.optional(boolean),
    cache_default_ttl_secs: v.optional(seconds()),
    ...staticRouteEntries,
    // With [tls] redirect_http, plain-HTTP requests to this route are served instead of redirected (health checks).
    https_redirect: v.optional(boolean),
  },
  'a route',
);

// ---------------------------------------------------------------------------
// [cache], [postgres], [middleware]

function urlWithScheme(schemes: readonly string[], example: string) {
  return v.pipe(
    v.string(expect(`a URL such as "${example}"`)),
    v.check((input) => {
      try {
        return schemes.includes(new URL(input).protocol);
      } catch {
        return false;
      }
    }, expect(`a URL such as "${example}"`)),
  );
}

/**
 * A query parameter name to leave out of cache keys: a literal name, or a prefix
 * ending in `*` (`utm_*`). Names are matched as they appear in the URL (not decoded).
 */
const ignoredQueryParam = v.pipe(
  v.string(expect('a query parameter name such as "fbclid" or a prefix such as "utm_*"')),
  v.check(
    (input) => /^[^&=*#\s]+\*?$/.test(input),
    expect('a query parameter name such as "fbclid" or a prefix such as "utm_*" (no "&", "=", "#" or spaces; "*" only at the end)'),
  ),
);

export const CacheSchema = table(
  {
    size_bytes: v.optional(integer(1024, Number.MAX_SAFE_INTEGER, 'a byte count of at least 1024'), 64 * 1024 * 1024),
    // Largest single response kept; bigger ones pass through uncached.
    max_object_bytes: v.optional(integer(1, Number.MAX_SAFE_INTEGER, 'a positive byte count'), 1024 * 1024),
    redis_url: v.optional(urlWithScheme(['redis:', 'rediss:'], 'redis://localhost/0')),
    redis_key_prefix: v.optional(
      v.pipe(
        text('a key prefix'),
        v.check((input) => !/[\s*?[\]\\]/.test(input), expect('a Redis key prefix without spaces or glob characters (* ? [ ] \\), such as "warpdrive:cache:"')),
      ),
      'warpdrive:cache:',
    ),
    // A lookup in Redis that takes longer counts as a miss; warpdrive never waits for Redis longer than this.
    redis_timeout_secs: v.optional(v.pipe(seconds(), v.maxValue(10, expect('a number of seconds > 0 and at most 10'))), 0.05),
    ignore_query_params: v.optional(v.array(ignoredQueryParam, expect('an array of query parameter names such as ["utm_*", "fbclid"]')), []),
    // Freshness for responses that carry none (no max-age, s-maxage or Expires); unset = such responses are not cached.
    default_ttl_secs: v.optional(seconds()),
    // How long concurrent misses for one key wait for the first one's response before going upstream themselves.
    lock_timeout_secs: v.optional(seconds(true), 5),
  },
  '[cache]',
);

/** LISTEN takes an identifier; PostgreSQL truncates names beyond 63 bytes (NAMEDATALEN - 1). */
function isChannelName(input: string): boolean {
  return Buffer.byteLength(input) <= 63 && !input.includes('\0');
}

export const PostgresSchema = table(
  {
    url: urlWithScheme(['postgres:', 'postgresql:'], 'postgres://localhost/app'),
    channel: v.optional(
      v.pipe(text('a channel name'), v.check(isChannelName, expect('a channel name of at most 63 bytes, as PostgreSQL keeps'))),
      'warpdrive_cache_invalidation',
    ),
  },
  '[postgres]',
);

export const logFormats = ['combined', 'json'] as const;

export const MiddlewareSchema = table(
  {
    forward_headers: v.optional(boolean, true),
    trusted_proxies: v.optional(
      v.array(
        v.pipe(v.string(expect('an IP address or CIDR')), v.check(isIpOrCidr, expect('an IP address or CIDR such as "10.0.0.0/8"'))),
        expect('an array of IP addresses or CIDRs'),
      ),
      [],
    ),
    x_sendfile_enabled: v.optional(boolean, false),
    gzip_compression_enabled: v.optional(boolean, false),
    ...fileMiddlewareEntries,
    log_requests: v.optional(boolean, false),
    /** Unset means "combined"; kept unset here so that a format without log_requests can be reported. */
    log_format: v.optional(
      v.picklist(logFormats, (issue) => {
        const found = typeof issue.input === 'string' ? didYouMean(issue.input, logFormats) : '';
        return `expected one of ${logFormats.map((f) => `"${f}"`).join(', ')}, found ${describeValue(issue.input)}${found}`;
      }),
    ),
    log_file: v.optional(text('a file path')),
    request_id: v.optional(boolean, true),
    request_start_header: v.optional(boolean, false),
    admin_token: v.optional(text('a token string')),
  },
  '[middleware]',
);

// ---------------------------------------------------------------------------
// [admin]

export const AdminSchema = table(
  {
    listen: v.pipe(
      v.string(expect('an address such as "127.0.0.1:9180" or a Unix socket path')),
      v.check(
        (input) => parseAdminListen(input) !== undefined,
        expect('"HOST:PORT" (an IP address or localhost, and a port 0-65535) or a Unix socket path', 'for example listen = "127.0.0.1:9180" or listen = "/run/warpdrive/admin.sock"'),
      ),
    ),
    token: v.optional(text('a token string')),
  },
  '[admin]',
);

// ---------------------------------------------------------------------------
// The whole document

export const ConfigSchema = table(
  {
    server: v.optional(ServerSchema, {}),
    tls: v.optional(TlsSchema),
    upstreams: v.optional(v.record(v.string(), UpstreamSchema, expect('a table of [upstreams.NAME] tables')), {}),
    routes: v.optional(v.array(RouteSchema, expect('an array of [[routes]] tables')), []),
    cache: v.optional(CacheSchema),
    postgres: v.optional(PostgresSchema),
    middleware: v.optional(MiddlewareSchema, {}),
    admin: v.optional(AdminSchema),
  },
  'the top level',
);

export type ServerConfig = v.InferOutput<typeof ServerSchema>;
export type TlsConfig = v.InferOutput<typeof TlsSchema>;
export type TlsCertificateConfig = v.InferOutput<typeof TlsCertificateSchema>;
export type ProcessConfig = v.InferOutput<typeof ProcessSchema>;
export type HealthConfig = v.InferOutput<typeof HealthSchema>;
export type InstanceConfig = v.InferOutput<typeof InstanceSchema>;
export type UpstreamConfig = v.InferOutput<typeof UpstreamSchema>;
export type RouteConfig = v.InferOutput<typeof RouteSchema>;
export type CacheConfig = v.InferOutput<typeof CacheSchema>;
export type PostgresConfig = v.InferOutput<typeof PostgresSchema>;
export type MiddlewareConfig = v.InferOutput<typeof MiddlewareSchema>;
export type AdminConfig = v.InferOutput<typeof AdminSchema>;
export type Config = v.InferOutput<typeof ConfigSchema>;

/** The top-level sections, for unknown-key detection in load.ts. */
export const topLevelKeys = ['server', 'tls', 'upstreams', 'routes', 'cache', 'postgres', 'middleware', 'admin'] as const;

/** The single-table sections, for the section-by-section parse in load.ts. */
export const sectionSchemas = {
  server: ServerSchema,
  tls: TlsSchema,
  cache: CacheSchema,
  postgres: PostgresSchema,
  middleware: MiddlewareSchema,
  admin: AdminSchema,
} as const;
