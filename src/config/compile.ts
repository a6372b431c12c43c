/**
 * compile(): validated, defaulted config (snake_case, seconds) -> the frozen
 * RuntimePlan (camelCase, milliseconds) every other module reads.
 *
 * Nothing here can fail on a config that passed the schema and `checkSections`;
 * the few guards left throw plain Errors because reaching them is a bug.
 *
 * @module
 */

import { availableParallelism } from 'node:os';
import { parseAdminListen, parseStatusRange } from './addresses.js';
import { compileCompression, compileStaticCacheBytes, compileStaticFiles, compileXSendfile } from './file-settings.js';
import { planProcessOrder } from './process-order.js';
import { resolveConfigPath } from './resolve-config-path.js';
import { resolveAcmeCa } from '../tls/acme-directories.js';
import type { AdminConfig, CacheConfig, Config, HealthConfig, InstanceConfig, ProcessConfig, RouteConfig, TlsConfig, UpstreamConfig } from './schema.js';
import type {
  AdminSpec,
  CacheSpec,
  HealthSpec,
  InstanceAddress,
  InstanceSpec,
  ProcessSpec,
  RouteCacheSpec,
  RouteSpec,
  RuntimePlan,
  TlsSpec,
  UpstreamSpec,
} from './types.js';

const ms = (secs: number): number => Math.round(secs * 1000);
const optionalMs = (secs: number | undefined): number | undefined => (secs === undefined ? undefined : ms(secs));
const optionalPath = (baseDir: string, path: string | undefined): string | undefined => (path === undefined ? undefined : resolveConfigPath(baseDir, path));

/**
 * Makes a Map read-only in fact, not only in type: Object.freeze leaves a Map's
 * entries writable, so the mutators are shadowed by throwing ones. Structured
 * clone (postMessage) copies only the entries, so the plan still crosses threads.
 */
function freezeMap<K, V>(map: Map<K, V>): ReadonlyMap<K, V> {
  for (const method of ['set', 'delete', 'clear'] as const) {
    Object.defineProperty(map, method, {
      value() {
        throw new TypeError(`the runtime plan is frozen: build a new plan instead of calling upstreams.${method}()`);
      },
    });
  }
  return Object.freeze(map);
}

/** Deep-freezes plain objects and arrays. */
function freeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) freeze(child);
  }
  return value;
}

function compileProcess(process: ProcessConfig | undefined, baseDir: string): ProcessSpec | undefined {
  if (process === undefined) return undefined;
  return {
    command: process.command,
    args: [...process.args],
    // A plain object: TOML tables arrive with a null prototype, which surprises spawn() callers that spread it.
    env: { ...process.env },
    // Unset: the config file's directory, so `args = ["bin/server"]` works wherever warpdrive is started.
    cwd: resolveConfigPath(baseDir, process.cwd ?? '.'),
    dependsOn: [...process.depends_on],
    stopTimeoutMs: ms(process.stop_timeout_secs),
    startTimeoutMs: ms(process.start_timeout_secs),
    maxMemoryMb: process.max_memory_mb,
  };
}

function compileAddress(address: Pick<InstanceConfig, 'host' | 'port' | 'socket'>, where: string, baseDir: string): InstanceAddress {
  if (address.socket !== undefined) return { kind: 'unix', socketPath: resolveConfigPath(baseDir, address.socket) };
  if (address.host !== undefined && address.port !== undefined) return { kind: 'tcp', host: address.host, port: address.port };
  throw new Error(`compile(): ${where} has no address; checkSections should have rejected it`);
}

function compileHealth(health: HealthConfig | undefined): HealthSpec | undefined {
  if (health === undefined) return undefined;
  const range = parseStatusRange(health.expected_status) ?? { min: 200, max: 399 };
  return {
    path: health.path,
    intervalMs: ms(health.interval_secs),
    timeoutMs: ms(health.timeout_secs),
    unhealthyThreshold: health.unhealthy_threshold,
    healthyThreshold: health.healthy_threshold,
    expectStatusMin: range.min,
    expectStatusMax: range.max,
  };
}

function compileUpstream(name: string, upstream: UpstreamConfig, baseDir: string): UpstreamSpec {
  const instances: InstanceSpec[] =
    upstream.instances !== undefined && upstream.instances.length > 0
      ? upstream.instances.map((instance, i) => ({
          id: `${name}#${i}`,
          address: compileAddress(instance, `upstreams.${name}.instances[${i}]`, baseDir),
          weight: instance.weight,
          process: compileProcess(instance.process, baseDir),
        }))
      : [{ id: `${name}#0`, address: compileAddress(upstream, `upstreams.${name}`, baseDir), weight: 1, process: undefined }];
  return {
    name,
    strategy: upstream.strategy,
    instances,
    health: compileHealth(upstream.health),
    passive: {
      maxFails: upstream.passive.max_fails,
      failTimeoutMs: ms(upstream.passive.fail_timeout_secs),
      maxEjectionMs: ms(upstream.passive.max_ejection_secs),
      count5xx: upstream.passive.count_5xx,
    },
    process: compileProcess(upstream.process, baseDir),
    connectTimeoutMs: ms(upstream.connect_timeout_secs),
    readTimeoutMs: ms(upstream.read_timeout_secs),
    maxConnectionsPerInstance: upstream.max_connections,
    keepAliveTimeoutMs: ms(upstream.keepalive_timeout_secs),
    retries: upstream.retries,
  };
}

function compileRouteCache(route: RouteConfig, cache: CacheConfig | undefined): RouteCacheSpec | undefined {
  if (cache === undefined || route.cache === false) return undefined;
  return { defaultTtlMs: optionalMs(route.cache_default_ttl_secs ?? cache.default_ttl_secs) };
}

function compileCache(cache: CacheConfig): CacheSpec {
  const names: string[] = [];
  const prefixes: string[] = [];
  for (const param of new Set(cache.ignore_query_params)) {
    if (param.endsWith('*')) prefixes.push(param.slice(0, -1));
    else names.push(param);
  }
  return {
    sizeBytes: cache.size_bytes,
    maxObjectBytes: cache.max_object_bytes,
    redisUrl: cache.redis_url,
    redisKeyPrefix: cache.redis_key_prefix,
    redisTimeoutMs: ms(cache.redis_timeout_secs),
    ignoreQueryParams: { names, prefixes },
    defaultTtlMs: optionalMs(cache.default_ttl_secs),
    lockTimeoutMs: ms(cache.lock_timeout_secs),
  };
}

function compileRoute(route: RouteConfig, index: number, configDir: string, cache: CacheConfig | undefined): RouteSpec {
  return {
    index,
    description: route.description,
    match: {
      host: route.host,
      pathPrefix: route.path_prefix,
      pathExact: route.path_exact,
      pathRegex: route.path_regex,
      // Deduplicated: the router may build a Set or scan; duplicates only cost time.
      methods: route.methods === undefined ? undefined : [...new Set(route.methods)],
      header: route.header === undefined ? undefined : { name: route.header.name, value: route.header.value },
    },
    upstream: route.upstream,
    staticFiles: compileStaticFiles(route, configDir),
    stripPrefix: route.strip_prefix,
    rewrite: route.rewrite,
    addHeaders: route.add_headers.map((pair) => ({ name: pair.name, value: pair.value })),
    requireAuth: route.require_auth,
    connectTimeoutMs: optionalMs(route.connect_timeout_secs),
    readTimeoutMs: optionalMs(route.read_timeout_secs),
    requestTimeoutMs: optionalMs(route.request_timeout_secs),
    cache: compileRouteCache(route, cache),
    httpsRedirect: route.https_redirect ?? true,
  };
}

/** `[tls]`; certificate and key files and acme_directory are relative to the config file, like every path. */
function compileTls(tls: TlsConfig, baseDir: string): TlsSpec {
  const fileCertificates = tls.certificates.map((entry, i) => ({
    domains: [...entry.domains],
    certFile: resolveConfigPath(baseDir, entry.cert_file),
    keyFile: resolveConfigPath(baseDir, entry.key_file),
    configPath: `tls.certificates[${i}]`,
  }));
  // [tls] cert_file/key_file: one certificate for `domains` (or for the names it carries); no ACME then.
  if (tls.cert_file !== undefined && tls.key_file !== undefined) {
    fileCertificates.unshift({ domains: [...tls.domains], certFile: resolveConfigPath(baseDir, tls.cert_file), keyFile: resolveConfigPath(baseDir, tls.key_file), configPath: 'tls' });
  }
  const acmeDomains = tls.cert_file === undefined ? tls.domains : [];
  const hsts =
    tls.hsts_max_age_secs === undefined
      ? undefined
      : {
          maxAgeSecs: tls.hsts_max_age_secs,
          includeSubdomains: tls.hsts_include_subdomains,
          headerValue: `max-age=${tls.hsts_max_age_secs}${tls.hsts_include_subdomains ? '; includeSubDomains' : ''}`,
        };
  return {
    enabled: tls.enabled,
    acme:
      acmeDomains.length === 0
        ? undefined
        : {
            domains: [...acmeDomains],
            ...resolveAcmeCa(tls.acme_ca),
            email: tls.email,
            eab: tls.eab === undefined ? undefined : { kid: tls.eab.kid, hmacKey: tls.eab.hmac_key },
            directory: optionalPath(baseDir, tls.acme_directory),
          },
    fileCertificates,
    redirectHttp: tls.redirect_http,
    hsts,
  };
}

function compileAdmin(admin: AdminConfig, baseDir: string): AdminSpec {
  const listen = parseAdminListen(admin.listen);
  if (listen === undefined) throw new Error(`compile(): admin.listen ${JSON.stringify(admin.listen)} passed the schema unparsed`);
  return {
    listen: listen.kind === 'unix' ? { kind: 'unix', socketPath: resolveConfigPath(baseDir, listen.socketPath) } : listen,
    token: admin.token,
  };
}

/** `worker_threads` as a count: "auto" is one proxy thread per CPU this process may use (at most 256). */
export function resolveWorkerThreads(value: number | 'auto'): number {
  return value === 'auto' ? Math.min(256, availableParallelism()) : value;
}

/**
 * Builds the frozen RuntimePlan from a config that passed the schema and `checkSections`.
 * Relative paths resolve against `baseDir` (the config file's directory): the plan
 * holds only absolute paths.
 */
export function compile(config: Config, source: string, baseDir: string): RuntimePlan {
  const parsedUpstreams = new Map(Object.entries(config.upstreams));
  const { order, issues } = planProcessOrder(parsedUpstreams);
  if (issues.length > 0) throw new Error(`compile(): unchecked process dependencies: ${issues[0]!.message}`);

  const upstreams = new Map<string, UpstreamSpec>();
  for (const [name, upstream] of parsedUpstreams) upstreams.set(name, freeze(compileUpstream(name, upstream, baseDir)));

  const { server, tls, cache, postgres, middleware, admin } = config;
  // Relative paths of the file features start from the config file's directory, like every other path.
  const configDir = baseDir;
  const routes = config.routes.map((route, index) => compileRoute(route, index, configDir, cache));
  const anyStaticRoute = routes.some((route) => route.staticFiles !== undefined);
  const plan: RuntimePlan = {
    source,
    baseDir,
    server: {
      bindAddress: server.bind_address,
      httpPort: server.http_port,
      httpsPort: server.https_port,
      workerThreads: resolveWorkerThreads(server.worker_threads),
      maxHeaderBytes: server.max_header_bytes,
      maxBodyBytes: server.max_body_bytes,
      shutdownTimeoutMs: ms(server.shutdown_timeout_secs),
      requestBodyChunked: server.request_body_chunked,
      idleTimeoutMs: ms(server.idle_timeout_secs),
      websocketMaxMessageBytes: server.websocket_max_message_bytes,
      websocketIdleTimeoutSecs: server.websocket_idle_timeout_secs,
      websocketMaxBufferedBytes: server.websocket_max_buffered_bytes,
    },
    tls: tls === undefined ? undefined : compileTls(tls, baseDir),
    upstreams: freezeMap(upstreams),
    routes,
    cache: cache === undefined ? undefined : compileCache(cache),
    postgres: postgres === undefined ? undefined : { url: postgres.url, channel: postgres.channel },
    middleware: {
      forwardHeaders: middleware.forward_headers,
      trustedProxies: [...middleware.trusted_proxies],
      xSendfileEnabled: middleware.x_sendfile_enabled,
      xSendfile: compileXSendfile(middleware, configDir),
      gzipCompressionEnabled: middleware.gzip_compression_enabled,
      compression: compileCompression(middleware),
      staticCacheBytes: compileStaticCacheBytes(middleware, anyStaticRoute),
      logRequests: middleware.log_requests,
      logFormat: middleware.log_format ?? 'combined',
      logFile: optionalPath(baseDir, middleware.log_file),
      requestId: middleware.request_id,
      requestStartHeader: middleware.request_start_header,
      adminToken: middleware.admin_token,
    },
    admin: admin === undefined ? undefined : compileAdmin(admin, baseDir),
    processOrder: order,
  };
  return freeze(plan);
}
