/**
 * Which filters a route gets, decided once per route when a generation is built.
 * The order is the order a request meets them: authentication before anything
 * touches the upstream request; the request id, forwarded headers and request
 * start before `add_headers` (which may override them); in the done phase,
 * metrics, the error log, then the access log.
 *
 * Filters that apply to every request, routed or not (metrics, the access log),
 * are also returned by `unrouted`, which serves requests refused before a route
 * was found (400, 404...).
 *
 * @module
 */
import { openSync } from 'node:fs';
import { codingFromToken, type ContentCoding } from '../compression/accept-encoding.js';
import type { CompressionLevels } from '../compression/codec-options.js';
import { CompressionPolicy } from '../compression/compression-policy.js';
import { STATIC_CACHE_MAX_FILE_BYTES } from '../config/file-settings.js';
import type { RouteSpec, RuntimePlan, XSendfileSpec } from '../config/types.js';
import { FileRoot, FileRootError } from '../files/file-root.js';
import { SmallFileCache } from '../files/small-file-cache.js';
import { StaticFiles } from '../files/static-files.js';
import { XSendfile } from '../files/x-sendfile.js';
import { createLogger } from '../log.js';
import { LogSink } from '../log-sink.js';
import { ThreadMetrics } from '../metrics/thread-metrics.js';
import { compileFilterChain, type Filter, type FilterChain } from '../pipeline/filter.js';
import { ThreadCache } from '../cache/thread-cache.js';
import { AccessLogFilter } from './access-log.js';
import { AdminAuthFilter } from './admin-auth.js';
import { CacheFilter } from './cache.js';
import { RouteBackgroundFetch } from './cache-background-fetch.js';
import { PurgeEndpoint } from './cache-purge.js';
import { CompressionFilter } from './compression.js';
import { ErrorLogFilter, UpstreamErrorLog } from './error-log.js';
import { ForwardedHeadersFilter } from './forwarded-headers.js';
import { HstsFilter } from './hsts.js';
import { HttpsRedirectFilter } from './https-redirect.js';
import { MetricsFilter } from './metrics.js';
import { RequestIdFilter, RequestIdGenerator } from './request-id.js';
import { RequestStartFilter } from './request-start.js';
import type { ThreadTls } from '../tls/thread-tls.js';
import { RouteHeadersFilter } from './route-headers.js';
import { StaticFilesFilter } from './static-files.js';
import { TrustedProxies } from './trusted-proxies.js';
import { XSendfileFilter } from './x-sendfile.js';

const log = createLogger('proxy');

/** The access-log file could not be opened (exit 1 at start; on reopen the old file is kept). */
export class LogFileError extends Error {
  readonly code = 'WD_ERR_LOG_FILE';
}

/** Opens `path` for appending, creating it (mode 0640) if needed. */
function openLogFile(path: string): number {
  try {
    return openSync(path, 'a', 0o640);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fix =
      code === 'ENOENT'
        ? 'create its directory'
        : code === 'EACCES' || code === 'EPERM'
          ? 'give warpdrive write access to it (under systemd: LogsDirectory=warpdrive and a path in /var/log/warpdrive)'
          : 'check the path';
    throw new LogFileError(`cannot open middleware.log_file ${path} (${(error as Error).message}); fix: ${fix}, or remove log_file to log to stdout`);
  }
}

/**
 * What a proxy thread keeps across generations for its filters: the access-log
  * writer (to stdout or `log_file`), the request counters, the request-id
 * generator, the error log, the small-file cache of static files (kept across
 * reloads while its size is the same: entries are keyed by absolute path and
 * checked against the disk anyway), and the response cache (created with the
 * thread when `[cache]` is configured; its section changes only with a restart).
 */
export class ThreadServices {
  readonly thread: number;
  readonly requestIds = new RequestIdGenerator();
  readonly errorLog: UpstreamErrorLog;
  readonly cache: ThreadCache | undefined;
  readonly cacheFetch = new RouteBackgroundFetch();
  /** This thread's TLS state when [tls] is on: certificate coverage and ACME answers. */
  tls: ThreadTls | undefined;
  #accessLog: LogSink | undefined;
  /** The file the access log goes to; undefined = stdout. */
  #logFile: string | undefined;
  #metrics: ThreadMetrics | undefined;
  #staticCache: SmallFileCache | undefined;

  constructor(thread: number, plan?: RuntimePlan) {
    this.thread = thread;
    this.errorLog = new UpstreamErrorLog(thread);
    this.cache = plan?.cache === undefined ? undefined : new ThreadCache(plan.cache, thread, plan.server.workerThreads);
  }

  /** The access log's writer, pointed at `logFile` (undefined: stdout); a reload that changes the file switches to it. */
  accessLog(logFile: string | undefined): LogSink {
    if (this.#accessLog === undefined) {
      const fd = logFile === undefined ? 1 : openLogFile(logFile);
      this.#accessLog = new LogSink({ fd, onDropped: (count) => log.warn(`${count} access-log lines dropped: ${this.#logFile ?? 'stdout'} could not keep up`) });
      this.#logFile = logFile;
    } else if (logFile !== this.#logFile) {
      const fd = logFile === undefined ? 1 : openLogFile(logFile);
      this.#accessLog.setFd(fd, this.#logFile !== undefined);
      this.#logFile = logFile;
    }
    return this.#accessLog;
  }

  /**
   * SIGUSR1: opens the log file again by name (logrotate has renamed the old one)
   * and sends the following lines there. Returns what happened, for the log.
   */
  reopenLogFile(): string {
    const file = this.#logFile;
    if (this.#accessLog === undefined || file === undefined) return 'no log_file to reopen';
    try {
      this.#accessLog.setFd(openLogFile(file), true);
      return `reopened ${file}`;
    } catch (error) {
      return `${(error as Error).message}; still writing to the file open before`;
    }
  }

  /** The request counters (created when a generation with metrics first asks). */
  get metrics(): ThreadMetrics {
    return (this.#metrics ??= new ThreadMetrics());
  }

  get metricsEnabled(): boolean {
    return this.#metrics !== undefined;
  }

  /** The thread's small-file cache of `bytes` (a new one when the size changed). */
  staticCache(bytes: number): SmallFileCache {
    if (this.#staticCache?.maxBytes !== bytes) this.#staticCache = new SmallFileCache({ maxBytes: bytes, maxFileBytes: STATIC_CACHE_MAX_FILE_BYTES });
    return this.#staticCache;
  }

  /** Resolves when every access-log line so far is written. */
  flush(): Promise<void> {
    return this.#accessLog?.flush() ?? Promise.resolve();
  }

  /** Closes what outlives generations (the cache's Redis connection). */
  async close(): Promise<void> {
    await this.cache?.close();
  }
}

/**
 * A configured directory, resolved now. The config check saw it exist; one removed
 * since is named with the key it came from.
 */
function resolveRoot(path: string, key: string): FileRoot {
  try {
    return FileRoot.resolve(path);
  } catch (error) {
    if (error instanceof FileRootError) throw new Error(`${key}: ${error.message} (it existed when the configuration was checked)`);
    throw error;
  }
}

function buildXSendfile(spec: XSendfileSpec): XSendfile {
  return new XSendfile(
    spec.roots.map((root, i) => resolveRoot(root, `middleware.x_sendfile_roots[${i}]`)),
    spec.accelMappings.map((mapping, i) => ({ prefix: mapping.prefix, root: resolveRoot(mapping.root, `middleware.x_accel_mappings[${i}].root`) })),
  );
}

/** The filters of one generation, shared by its routes where they are the same object. */
export class GenerationFilters {
  readonly trusted: TrustedProxies;
  readonly #plan: RuntimePlan;
  readonly #services: ThreadServices;
  readonly #forwarded: ForwardedHeadersFilter | undefined;
  readonly #auth: AdminAuthFilter | undefined;
  readonly #requestId: RequestIdFilter | undefined;
  readonly #requestStart: RequestStartFilter | undefined;
  readonly #errorLog: ErrorLogFilter;
  readonly #accessLog: AccessLogFilter | undefined;
  readonly #metrics: boolean;
  readonly #xSendfile: XSendfileFilter | undefined;
  readonly #compression: CompressionFilter | undefined;
  /** Shared by the compression filter and static files (which compress cached files once). */
  readonly #compressionSettings: { readonly policy: CompressionPolicy; readonly levels: CompressionLevels } | undefined;
  readonly #staticCache: SmallFileCache | undefined;
  readonly #httpsRedirect: HttpsRedirectFilter | undefined;
  readonly #hsts: HstsFilter | undefined;

  constructor(plan: RuntimePlan, services: ThreadServices) {
    this.#plan = plan;
    this.#services = services;
    const middleware = plan.middleware;
    this.trusted = new TrustedProxies(middleware.trustedProxies);
    this.#forwarded = middleware.forwardHeaders ? new ForwardedHeadersFilter(this.trusted) : undefined;
    this.#auth = middleware.adminToken === undefined ? undefined : new AdminAuthFilter(middleware.adminToken);
    this.#requestId = middleware.requestId ? new RequestIdFilter(this.trusted, services.requestIds) : undefined;
    this.#requestStart = middleware.requestStartHeader ? new RequestStartFilter(this.trusted) : undefined;
    this.#errorLog = new ErrorLogFilter(services.errorLog);
    this.#accessLog = middleware.logRequests ? new AccessLogFilter(services.accessLog(middleware.logFile), middleware.logFormat) : undefined;
    // Metrics are for the admin listener: without [admin] nobody reads them, and nothing is counted.
    this.#metrics = plan.admin !== undefined;
    this.#xSendfile = middleware.xSendfile === undefined ? undefined : new XSendfileFilter(buildXSendfile(middleware.xSendfile));
    const compression = middleware.compression;
    if (compression !== undefined) {
      const policy = new CompressionPolicy({
        codings: compression.codings.map((token) => codingFromToken(token) as ContentCoding),
        types: compression.types,
        minBytes: compression.minBytes,
      });
      const levels = { gzip: compression.gzipLevel, brotli: compression.brotliLevel };
      this.#compressionSettings = { policy, levels };
      this.#compression = new CompressionFilter(policy, levels);
    } else {
      this.#compressionSettings = undefined;
      this.#compression = undefined;
    }
    this.#staticCache = middleware.staticCacheBytes > 0 ? services.staticCache(middleware.staticCacheBytes) : undefined;
    const tls = plan.tls?.enabled === true ? plan.tls : undefined;
    this.#httpsRedirect = tls?.redirectHttp === true && services.tls !== undefined ? new HttpsRedirectFilter(services.tls) : undefined;
    this.#hsts = tls?.hsts === undefined ? undefined : new HstsFilter(tls.hsts.headerValue);
  }

  /** The chain for one route. */
  forRoute(spec: RouteSpec): FilterChain {
    const filters: Filter[] = [];
    // Before auth: a plain-HTTP request is sent to https:// without its credentials being looked at.
    if (this.#httpsRedirect !== undefined && spec.httpsRedirect) filters.push(this.#httpsRedirect);
    if (spec.requireAuth) {
      // checks.ts refuses require_auth without a token, so this never fires on a loaded config.
      if (this.#auth === undefined) throw new Error(`route ${spec.index} requires auth but no admin token is configured`);
      filters.push(this.#auth);
    }
    // After auth (a protected route protects its files too), before anything upstream.
    if (spec.staticFiles !== undefined) filters.push(this.#staticFilesFilter(spec));
    if (spec.upstream !== undefined) {
      if (this.#requestId) filters.push(this.#requestId);
      // After the HTTPS redirect and auth (a redirected or refused request is never answered
      // from the cache), static files (a file is served as it is on disk) and the request id
      // (a hit is logged with one too); first of the responseHead filters, so that its tee sits
      // nearest the client and stores the bytes the client gets: after X-Sendfile, compression and HSTS.
      const cache = this.#services.cache;
      if (cache !== undefined && spec.cache !== undefined) filters.push(new CacheFilter(cache.cache, spec.cache.defaultTtlMs, this.#services.cacheFetch));
      if (this.#forwarded) filters.push(this.#forwarded);
      if (this.#requestStart) filters.push(this.#requestStart);
      if (spec.addHeaders.length > 0) filters.push(new RouteHeadersFilter(spec.addHeaders));
      // Before compression: a file served for the upstream is compressed like any response.
      if (this.#xSendfile) filters.push(this.#xSendfile);
    }
    if (this.#compression) filters.push(this.#compression);
    if (this.#hsts) filters.push(this.#hsts);
    if (this.#metrics) filters.push(new MetricsFilter(this.#services.metrics.forRoute(spec)));
    filters.push(this.#errorLog);
    if (this.#accessLog) filters.push(this.#accessLog);
    return compileFilterChain(filters);
  }

  /** `POST /.warpdrive/purge`, when the cache is on and an admin token is set. */
  purgeEndpoint(): PurgeEndpoint | undefined {
    const cache = this.#services.cache;
    const token = this.#plan.middleware.adminToken;
    return cache === undefined || token === undefined ? undefined : new PurgeEndpoint(cache.cache, token, this.#plan.postgres);
  }

  #staticFilesFilter(spec: RouteSpec): StaticFilesFilter {
    const settings = spec.staticFiles!;
    const files = new StaticFiles({
      root: resolveRoot(settings.root, `routes[${spec.index}].static_root`),
      serveDotfiles: settings.serveDotfiles,
      fingerprintPattern: settings.fingerprintPattern === undefined ? undefined : new RegExp(settings.fingerprintPattern),
      cache: this.#staticCache,
      compression: this.#compressionSettings,
    });
    return new StaticFilesFilter(files, spec.upstream === undefined);
  }

  /** The chain for requests that never reached a route (refused or unmatched). */
  unrouted(): FilterChain {
    const filters: Filter[] = [];
    if (this.#metrics) filters.push(new MetricsFilter(this.#services.metrics.unrouted));
    filters.push(this.#errorLog);
    if (this.#accessLog) filters.push(this.#accessLog);
    return compileFilterChain(filters);
  }

  /** Names of the filters a route gets, for `warpdrive check`. */
  describe(spec: RouteSpec): string[] {
    return this.forRoute(spec).all.map((f) => f.name);
  }

  get plan(): RuntimePlan {
    return this.#plan;
  }
}
