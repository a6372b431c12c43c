/**
 * The runtime plan: what `compile()` makes of a validated configuration.
 *
 * Everything after config loading reads these types, never the raw TOML shape
 * (snake_case stops at `compile()`, camelCase begins here). Objects are frozen
 * after compilation: a reload builds a new plan and swaps it by reference.
 *
 * @module
 */

export type Strategy = 'round_robin' | 'least_conn' | 'random' | 'ip_hash';

/** Where one instance of an upstream listens. */
export type InstanceAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly socketPath: string };

export interface InstanceSpec {
  /** Stable id, `upstreamName#index` (e.g. `rails#0`), used in logs and state. */
  readonly id: string;
  readonly address: InstanceAddress;
  /** Relative weight for weighted strategies; 1 unless configured. */
  readonly weight: number;
  /**
   * A process that serves this instance alone (`process.*` inside
   * `[[upstreams.NAME.instances]]`), so siblings keep serving while it restarts.
   * An upstream-level process serves all of the upstream's instances instead.
   */
  readonly process: ProcessSpec | undefined;
}

/** Active health checks (`[upstreams.NAME.health]`). */
export interface HealthSpec {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  /** Inclusive range of statuses that count as healthy (default 200–399). */
  readonly expectStatusMin: number;
  readonly expectStatusMax: number;
}

/** Passive health / outlier ejection (`[upstreams.NAME.passive]`). */
export interface PassiveHealthSpec {
  /** Consecutive failures that eject an instance; 0 disables passive ejection. */
  readonly maxFails: number;
  /** First ejection lasts this long; repeated ejections double it up to maxEjectionMs. */
  readonly failTimeoutMs: number;
  readonly maxEjectionMs: number;
  /** Whether a 5xx response counts as a failure (connection failures always do). */
  readonly count5xx: boolean;
}

/** A supervised process (`process.*` keys of an upstream). */
export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** Merged over warpdrive's own environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | undefined;
  /** Names of upstreams whose processes must be ready before this one starts. */
  readonly dependsOn: readonly string[];
  readonly stopTimeoutMs: number;
  readonly startTimeoutMs: number;
  readonly maxMemoryMb: number | undefined;
}

export interface UpstreamSpec {
  readonly name: string;
  readonly strategy: Strategy;
  readonly instances: readonly InstanceSpec[];
  readonly health: HealthSpec | undefined;
  readonly passive: PassiveHealthSpec;
  readonly process: ProcessSpec | undefined;
  readonly connectTimeoutMs: number;
  /** Time to the first response byte, and between bytes. */
  readonly readTimeoutMs: number;
  /** Max concurrent connections per instance (undici Pool `connections`). */
  readonly maxConnectionsPerInstance: number;
  /** warpdrive closes idle upstream connections after this long (kept below the upstream's). */
  readonly keepAliveTimeoutMs: number;
  /** How many times a safe request may be retried on another instance. */
  readonly retries: number;
}

/** Conditions of one route; all present conditions must hold (AND). */
export interface RouteMatch {
  /** Lowercase; exact (`api.example.com`) or one leading wildcard label (`*.example.com`). */
  readonly host: string | undefined;
  readonly pathPrefix: string | undefined;
  readonly pathExact: string | undefined;
  /** Regex source, validated at load; the router compiles it once. */
  readonly pathRegex: string | undefined;
  /** Uppercase method names. */
  readonly methods: readonly string[] | undefined;
  /** Header name is lowercase; the value is compared exactly. */
  readonly header: { readonly name: string; readonly value: string } | undefined;
}

export interface HeaderPair {
  readonly name: string;
  readonly value: string;
}

export interface RouteSpec {
  /** Position in the `[[routes]]` list, 0-based: first match wins. */
  readonly index: number;
  readonly description: string | undefined;
  readonly match: RouteMatch;
  /** Undefined only on a files-only route (`static_root` without upstream): what is not a file gets 404. */
  readonly upstream: string | undefined;
  /** Files tried before the upstream (`try_files $uri $uri/ @upstream`), or undefined. */
  readonly staticFiles: StaticFilesSpec | undefined;
  readonly stripPrefix: boolean;
  readonly rewrite: string | undefined;
  readonly addHeaders: readonly HeaderPair[];
  readonly requireAuth: boolean;
  /** Overrides of the upstream's timeouts for this route. */
  readonly connectTimeoutMs: number | undefined;
  readonly readTimeoutMs: number | undefined;
  /** Overall deadline for the whole request, retries included; undefined = none. */
  readonly requestTimeoutMs: number | undefined;
  /** The response cache on this route; undefined when there is no [cache] or the route says cache = false. */
  readonly cache: RouteCacheSpec | undefined;
  /** False: with [tls] redirect_http, plain-HTTP requests to this route are served, not redirected. */
  readonly httpsRedirect: boolean;
}

export interface ServerSpec {
  readonly bindAddress: string;
  readonly httpPort: number;
  readonly httpsPort: number | undefined;
  readonly workerThreads: number;
  /** Largest request header block accepted; larger gets 431. */
  readonly maxHeaderBytes: number;
  /** Largest request body accepted; undefined = unlimited (streamed). */
  readonly maxBodyBytes: number | undefined;
  /** How long SIGTERM waits for in-flight requests before exiting. */
  readonly shutdownTimeoutMs: number;
  /** `reject`: chunked request bodies get 411 Length Required (their framing is parsed leniently by uWS). */
  readonly requestBodyChunked: 'accept' | 'reject';
  /** Client-side keep-alive idle timeout. */
  readonly idleTimeoutMs: number;
  /** Largest WebSocket message relayed either way (default 16 MiB); larger closes the connection with 1009. */
  readonly websocketMaxMessageBytes?: number;
  /** A WebSocket with no traffic (pings included) this long is closed; 0 = never (default 120). */
  readonly websocketIdleTimeoutSecs?: number;
  /** Total held for WebSocket clients that do not keep up, all connections (default 256 MiB); past it the largest holders are dropped. */
  readonly websocketMaxBufferedBytes?: number;
}

/** A certificate the user provides as files (`[tls] cert_file` or `[[tls.certificates]]`). */
export interface FileCertificateSpec {
  /** The names it serves as configured; empty for `[tls] cert_file` without `domains`: then the certificate's own names. */
  readonly domains: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
  /** Where it was configured, for messages: `tls` or `tls.certificates[1]`. */
  readonly configPath: string;
}

/** Certificates ordered from an ACME CA for `[tls] domains`, one certificate per domain. */
export interface AcmeSpec {
  /** Exact names (no wildcards: HTTP-01 cannot prove them), lowercase. */
  readonly domains: readonly string[];
  readonly directoryUrl: string;
  /** What `acme_ca` said: `letsencrypt`, `letsencrypt-staging`, or `custom` for a URL. */
  readonly caName: 'letsencrypt' | 'letsencrypt-staging' | 'custom';
  readonly email: string | undefined;
  /** External Account Binding, for CAs that require it. */
  readonly eab: { readonly kid: string; readonly hmacKey: string } | undefined;
  /**
   * `acme_directory`: the file store (account, certificates, challenges, locks) and,
   * under `live/`, the copies uWS reads; with `[postgres]`, only those copies.
   */
  readonly directory: string | undefined;
}

export interface HstsSpec {
  readonly maxAgeSecs: number;
  readonly includeSubdomains: boolean;
  /** The header value, built once: `max-age=31536000; includeSubDomains`. */
  readonly headerValue: string;
}

export interface TlsSpec {
  /** `false` when `[tls] enabled = false` keeps a TLS configuration switched off. */
  readonly enabled: boolean;
  readonly acme: AcmeSpec | undefined;
  readonly fileCertificates: readonly FileCertificateSpec[];
  /** Plain-HTTP requests are redirected (308) to https://, except ACME challenges and opted-out routes. */
  readonly redirectHttp: boolean;
  readonly hsts: HstsSpec | undefined;
}

/** The response cache (`[cache]`); see docs/cache.md. */
export interface CacheSpec {
  /** The memory (L1) budget of the whole process; each proxy thread gets sizeBytes / workerThreads. */
  readonly sizeBytes: number;
  /** Largest response (headers + body) kept; larger ones pass through uncached. */
  readonly maxObjectBytes: number;
  /** The shared second tier (L2); undefined = memory only. */
  readonly redisUrl: string | undefined;
  /** Every Redis key warpdrive writes starts with this, so several caches can share one Redis. */
  readonly redisKeyPrefix: string;
  /** The longest a request waits for Redis before treating the lookup as a miss. */
  readonly redisTimeoutMs: number;
  /** Query parameters left out of cache keys: exact names and name prefixes (`utm_*` -> `utm_`). */
  readonly ignoreQueryParams: { readonly names: readonly string[]; readonly prefixes: readonly string[] };
  /**
   * Freshness given to a response that carries none of its own (no max-age,
   * s-maxage or Expires); undefined = such responses are not cached.
   */
  readonly defaultTtlMs: number | undefined;
  /** How long concurrent misses for one key wait for the first one's response. */
  readonly lockTimeoutMs: number;
}

/** How one route uses the response cache. */
export interface RouteCacheSpec {
  /** The route's `cache_default_ttl_secs`, else `[cache] default_ttl_secs`, else undefined. */
  readonly defaultTtlMs: number | undefined;
}

/** Invalidation by PostgreSQL LISTEN/NOTIFY (`[postgres]`); see docs/cache.md. */
export interface PostgresSpec {
  readonly url: string;
  /** Channel name as pg_notify() is given it (case-sensitive; LISTEN quotes it). */
  readonly channel: string;
}

/** A route's `static_root` and its options (src/files/static-files.ts). */
export interface StaticFilesSpec {
  /** Absolute (a relative `static_root` is resolved against the config file's directory). */
  readonly root: string;
  /** Serve files and directories whose name starts with "." (default false; `.well-known` always is). */
  readonly serveDotfiles: boolean;
  /** Regex source: matching paths get `Cache-Control: public, max-age=31536000, immutable`; undefined: none. */
  readonly fingerprintPattern: string | undefined;
}

/** `x_accel_mappings` entry: URIs under `prefix` name files under `root`. */
export interface AccelMappingSpec {
  /** Starts and ends with "/". */
  readonly prefix: string;
  /** Absolute. */
  readonly root: string;
}

/** X-Sendfile / X-Accel-Redirect (`x_sendfile_enabled = true`). */
export interface XSendfileSpec {
  /** Absolute directories files may be served from (mapping roots are allowed too). */
  readonly roots: readonly string[];
  readonly accelMappings: readonly AccelMappingSpec[];
}

/** Response compression (`gzip_compression_enabled = true`). */
export interface CompressionSpec {
  /** Offered codings, most preferred first. */
  readonly codings: readonly ('br' | 'gzip')[];
  /** Compressible media types: `type/subtype` or `type/*`, lowercase. */
  readonly types: readonly string[];
  /** Bodies with a declared length below this are sent as they are. */
  readonly minBytes: number;
  readonly gzipLevel: number;
  readonly brotliLevel: number;
}

export interface MiddlewareSpec {
  /** Set X-Forwarded-For/-Proto/-Host on upstream requests. */
  readonly forwardHeaders: boolean;
  /**
   * Client addresses (exact IPs or CIDRs) whose incoming X-Forwarded-* chain is
   * trusted and appended to; from anyone else it is replaced.
   */
  readonly trustedProxies: readonly string[];
  readonly xSendfileEnabled: boolean;
  /** Set when xSendfileEnabled. */
  readonly xSendfile: XSendfileSpec | undefined;
  readonly gzipCompressionEnabled: boolean;
  /** Set when gzipCompressionEnabled. */
  readonly compression: CompressionSpec | undefined;
  /** Small-file cache per proxy thread, in bytes; 0 when no route serves files or the cache is off. */
  readonly staticCacheBytes: number;
  readonly logRequests: boolean;
  /** The access log's line format: nginx's `combined` plus warpdrive's fields, or one JSON object per line. */
  readonly logFormat: 'combined' | 'json';
  /** Absolute path of the access-log file (reopened on SIGUSR1); undefined = stdout. */
  readonly logFile: string | undefined;
  /** Generate an X-Request-Id (or keep a trusted hop's) and send it upstream. */
  readonly requestId: boolean;
  /** Send `X-Request-Start: t=<microseconds since the epoch>` upstream (Rails APM queue time). */
  readonly requestStartHeader: boolean;
  /** Value of X-Admin-Token that `require_auth` routes demand. */
  readonly adminToken: string | undefined;
}

/** The admin listener (`[admin]`): metrics, the JSON API and the dashboard. */
export interface AdminSpec {
  /** TCP address, or a Unix socket (absolute path). */
  readonly listen: { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly socketPath: string };
  /** Bearer token the API demands; required when listening beyond loopback. */
  readonly token: string | undefined;
}

export interface RuntimePlan {
  /** The config file path, or `"environment"` in simple mode. */
  readonly source: string;
  /** The directory relative paths were resolved against: the config file's (simple mode: the working directory). Every path in the plan is absolute. */
  readonly baseDir: string;
  readonly server: ServerSpec;
  readonly tls: TlsSpec | undefined;
  readonly upstreams: ReadonlyMap<string, UpstreamSpec>;
  readonly routes: readonly RouteSpec[];
  readonly cache: CacheSpec | undefined;
  readonly postgres: PostgresSpec | undefined;
  readonly middleware: MiddlewareSpec;
  /** Undefined when there is no `[admin]` section: no listener, no metrics work per request. */
  readonly admin: AdminSpec | undefined;
  /**
   * Supervised process units in start order (dependencies first): an upstream name
   * for an upstream-level process, an instance id (`name#i`) for an instance-level one.
   * Stop order is the reverse.
   */
  readonly processOrder: readonly string[];
}
