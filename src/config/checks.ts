/**
 * Cross-field checks: everything the schema cannot see from one key alone.
 *
 * They run on whatever sections passed the schema, so one run reports shape
 * errors and semantic errors together; a section that failed the schema is
 * `undefined` here and skipped (its name still counts as defined, so a typo
 * inside `[upstreams.api]` does not also flag every route to "api").
 *
 * @module
 */

import type { ConfigIssue } from './errors.js';
import { didYouMean } from './errors.js';
import { planProcessOrder } from './process-order.js';
import { maxSocketPathBytes, resolveConfigPath } from './resolve-config-path.js';
import { isLoopback, parseAdminListen } from './addresses.js';
import { resolveWorkerThreads } from './compile.js';
import { checkTls } from './tls-checks.js';
import type { AdminConfig, CacheConfig, InstanceConfig, MiddlewareConfig, PostgresConfig, RouteConfig, ServerConfig, TlsConfig, UpstreamConfig } from './schema.js';

/** The document after the section-by-section schema pass (env overrides applied). */
export interface CheckedSections {
  readonly server: ServerConfig | undefined;
  readonly tls: TlsConfig | undefined;
  /** Every upstream name in the file; the value is undefined if its table failed the schema. */
  readonly upstreams: ReadonlyMap<string, UpstreamConfig | undefined>;
  readonly routes: readonly (RouteConfig | undefined)[] | undefined;
  readonly middleware: MiddlewareConfig | undefined;
  /** Undefined when absent or when it failed the schema. */
  readonly admin?: AdminConfig | undefined;
  /** The directory relative paths resolve against (the config file's). */
  readonly baseDir: string;
  /** Absent sections and sections that failed the schema are both undefined; `hasCache` tells them apart. */
  readonly cache: CacheConfig | undefined;
  readonly hasCache: boolean;
  readonly postgres: PostgresConfig | undefined;
  /** Whether `[postgres]` is configured (cache invalidation; ACME state can live there too). */
  readonly hasPostgres: boolean;
}

const upstreamName = /^[A-Za-z0-9_-]+$/;

type Address = Pick<InstanceConfig, 'host' | 'port' | 'socket'>;

/** Issues of one address (upstream top level or instance); returns its identity key, if any. */
function checkAddress(address: Address, path: string, baseDir: string, issues: ConfigIssue[]): string | undefined {
  const { host, port, socket } = address;
  if (socket !== undefined && (host !== undefined || port !== undefined)) {
    issues.push({
      path: `${path}.socket`,
      message: 'set together with host/port; fix: keep either socket = "/path.sock" or host + port, not both',
    });
    return undefined;
  }
  if (host !== undefined && port === undefined) {
    issues.push({ path: `${path}.port`, message: `expected a port next to host = "${host}", found nothing; fix: add port = 3000 (your app's port)` });
    return undefined;
  }
  if (port !== undefined && host === undefined) {
    issues.push({ path: `${path}.host`, message: `expected a host next to port = ${port}, found nothing; fix: add host = "127.0.0.1"` });
    return undefined;
  }
  if (socket !== undefined) {
    // The resolved path is what connect() receives: "a.sock" and "./a.sock" are one address,
    // and a short relative path can become too long for a socket address once resolved.
    const resolved = resolveConfigPath(baseDir, socket);
    const bytes = Buffer.byteLength(resolved);
    if (bytes > maxSocketPathBytes) {
      issues.push({
        path: `${path}.socket`,
        message:
          `expected a Unix socket path of at most ${maxSocketPathBytes} bytes (the system's limit), found ${bytes} bytes` +
          `${resolved === socket ? '' : ` once resolved against the config file's directory (${resolved})`}; fix: use a shorter path, e.g. socket = "/run/app/app.sock"`,
      });
      return undefined;
    }
    return `unix:${resolved}`;
  }
  if (host !== undefined) return `tcp:${host}:${port}`;
  return undefined;
}

function hasAddress(address: Address): boolean {
  return address.host !== undefined || address.port !== undefined || address.socket !== undefined;
}

function checkUpstream(name: string, upstream: UpstreamConfig, baseDir: string, issues: ConfigIssue[]): void {
  const path = `upstreams.${name}`;
  const { instances } = upstream;
  if (instances !== undefined && hasAddress(upstream)) {
    issues.push({
      path: `${path}.instances`,
      message: 'set together with a top-level host/port/socket; fix: move that address into an [[upstreams.' + name + '.instances]] entry, or remove instances',
    });
  } else if (instances === undefined || instances.length === 0) {
    if (!hasAddress(upstream)) {
      issues.push({
        path,
        message: `expected an address (host + port, socket, or [[upstreams.${name}.instances]]), found none; fix: add host = "127.0.0.1" and port = 3000, or socket = "/tmp/${name}.sock"`,
      });
    } else checkAddress(upstream, path, baseDir, issues);
  }

  if (instances !== undefined) {
    const seen = new Map<string, number>();
    instances.forEach((instance, i) => {
      const instancePath = `${path}.instances[${i}]`;
      if (!hasAddress(instance)) {
        issues.push({ path: instancePath, message: 'expected host + port or socket, found neither; fix: add socket = "/tmp/app.sock" or host and port' });
        return;
      }
      const key = checkAddress(instance, instancePath, baseDir, issues);
      if (key === undefined) return;
      const first = seen.get(key);
      if (first !== undefined) {
        issues.push({ path: instancePath, message: `same address as ${path}.instances[${first}]; fix: give each instance its own socket or port` });
      } else seen.set(key, i);
      if (instance.process !== undefined && upstream.process !== undefined) {
        issues.push({
          path: `${instancePath}.process`,
          message: `set together with ${path}.process; fix: supervise either one process for the whole upstream or one per instance, not both`,
        });
      }
    });
  }

  const { health, passive } = upstream;
  if (health !== undefined && health.timeout_secs >= health.interval_secs) {
    issues.push({
      path: `${path}.health.timeout_secs`,
      message: `expected less than interval_secs (${health.interval_secs}), found ${health.timeout_secs}; fix: lower timeout_secs or raise interval_secs`,
    });
  }
  if (passive.fail_timeout_secs > passive.max_ejection_secs) {
    issues.push({
      path: `${path}.passive.max_ejection_secs`,
      message: `expected at least fail_timeout_secs (${passive.fail_timeout_secs}), found ${passive.max_ejection_secs}; fix: raise max_ejection_secs`,
    });
  }
}

/** The issue for a route naming an upstream that is not defined, or undefined if it is. */
export function unknownUpstreamIssue(path: string, name: string, upstreams: ReadonlyMap<string, unknown>): ConfigIssue | undefined {
  if (upstreams.has(name)) return undefined;
  const names = [...upstreams.keys()];
  const fix = names.length === 0 ? `define it as [upstreams.${name}]` : `use one of: ${names.join(', ')}, or define [upstreams.${name}]`;
  return { path, message: `unknown upstream "${name}"${didYouMean(name, names)}; fix: ${fix}` };
}

/** Conditions as a comparable key, to find routes an earlier one always wins over. */
function conditionKey(route: RouteConfig): string {
  return JSON.stringify([route.host, route.path_prefix, route.path_exact, route.path_regex, route.methods?.slice().sort(), route.header]);
}

function isCatchAll(route: RouteConfig): boolean {
  return (
    route.host === undefined &&
    route.path_exact === undefined &&
    route.path_regex === undefined &&
    route.methods === undefined &&
    route.header === undefined &&
    (route.path_prefix === undefined || route.path_prefix === '/')
  );
}

function checkRoutes(sections: CheckedSections, issues: ConfigIssue[]): void {
  const routes = sections.routes ?? [];
  const adminToken = sections.middleware?.admin_token;
  const earlier = new Map<string, number>();
  let catchAll: number | undefined;

  routes.forEach((route, i) => {
    if (route === undefined) return;
    const path = `routes[${i}]`;
    // A route without upstream is a files-only route, or an error file-settings.ts reports.
    const unknown = route.upstream === undefined ? undefined : unknownUpstreamIssue(`${path}.upstream`, route.upstream, sections.upstreams);
    if (unknown !== undefined) issues.push(unknown);
    if (route.path_exact !== undefined && route.path_prefix !== undefined) {
      issues.push({ path: `${path}.path_exact`, message: 'set together with path_prefix; fix: keep one of them (path_exact already fixes the whole path)' });
    }
    const hasPathAnchor = route.path_prefix !== undefined || route.path_exact !== undefined;
    if (route.strip_prefix && !hasPathAnchor) {
      issues.push({ path: `${path}.strip_prefix`, message: 'strip_prefix needs path_prefix or path_exact to know what to strip; fix: add path_prefix = "/..." or remove strip_prefix' });
    }
    if (route.rewrite !== undefined && !hasPathAnchor) {
      issues.push({ path: `${path}.rewrite`, message: 'rewrite needs path_prefix or path_exact to know what to replace; fix: add path_prefix = "/..." or remove rewrite' });
    }
    if (route.rewrite !== undefined && route.strip_prefix) {
      issues.push({ path: `${path}.rewrite`, message: 'set together with strip_prefix = true; fix: use rewrite alone (rewrite = "/" strips the prefix)' });
    }
    if (!sections.hasCache && route.cache === true) {
      issues.push({ path: `${path}.cache`, message: 'cache = true needs a [cache] section, and there is none; fix: add [cache] (size_bytes = 67108864), or remove the key' });
    }
    if (!sections.hasCache && route.cache_default_ttl_secs !== undefined) {
      issues.push({ path: `${path}.cache_default_ttl_secs`, message: 'set without a [cache] section, so nothing is cached; fix: add [cache] (size_bytes = 67108864), or remove the key' });
    } else if (route.cache === false && route.cache_default_ttl_secs !== undefined) {
      issues.push({ path: `${path}.cache_default_ttl_secs`, message: 'set together with cache = false; fix: remove one of them' });
    }
    if (route.require_auth && adminToken === undefined) {
      issues.push({
        path: `${path}.require_auth`,
        message: 'require_auth = true needs an admin token, but none is set; fix: add admin_token = "..." under [middleware], or export WARPDRIVE_ADMIN_TOKEN=...',
      });
    }

    const key = conditionKey(route);
    const shadowedBy = catchAll ?? earlier.get(key);
    if (shadowedBy !== undefined) {
      issues.push({
        path,
        message: `never matches: routes[${shadowedBy}] comes first and matches every request this one would; fix: move this route above routes[${shadowedBy}] or remove it`,
      });
    }
    if (!earlier.has(key)) earlier.set(key, i);
    if (catchAll === undefined && isCatchAll(route)) catchAll = i;
  });
}

/** log_format and log_file only mean something with log_requests = true. */
function checkLogging(middleware: MiddlewareConfig | undefined, issues: ConfigIssue[]): void {
  if (middleware === undefined || middleware.log_requests) return;
  for (const key of ['log_format', 'log_file'] as const) {
    if (middleware[key] !== undefined) {
      issues.push({ path: `middleware.${key}`, message: `set while log_requests is false, so there is no access log to apply it to; fix: add log_requests = true, or remove ${key}` });
    }
  }
}

/** The admin listener: a token beyond loopback, and an address the proxy does not use already. */
function checkAdmin(admin: AdminConfig | undefined, server: ServerConfig | undefined, baseDir: string, issues: ConfigIssue[]): void {
  if (admin === undefined) return;
  const listen = parseAdminListen(admin.listen);
  if (listen === undefined) return;
  if (listen.kind === 'tcp') {
    if (!isLoopback(listen.host) && admin.token === undefined) {
      issues.push({
        path: 'admin.token',
        message: `required when the admin listener is reachable from other machines (listen = "${admin.listen}"): anyone who reaches it could drain instances and restart processes; fix: add token = "..." under [admin] (or export WARPDRIVE_ADMIN_API_TOKEN=...), or listen on 127.0.0.1 or a Unix socket`,
      });
    }
    if (server !== undefined && listen.port !== 0 && listen.port === server.http_port) {
      issues.push({ path: 'admin.listen', message: `port ${listen.port} is server.http_port as well; fix: give the admin listener a port of its own, e.g. "127.0.0.1:9180"` });
    }
  } else {
    const resolved = resolveConfigPath(baseDir, listen.socketPath);
    const bytes = Buffer.byteLength(resolved);
    if (bytes > maxSocketPathBytes) {
      issues.push({ path: 'admin.listen', message: `expected a Unix socket path of at most ${maxSocketPathBytes} bytes, found ${bytes} bytes (${resolved}); fix: use a shorter path, e.g. "/run/warpdrive/admin.sock"` });
    }
  }
}

function checkCache(sections: CheckedSections, issues: ConfigIssue[]): void {
  // [postgres] invalidates the response cache, and keeps ACME accounts and certificates when [tls] orders them.
  const tls = sections.tls;
  const acmeUsesPostgres = tls !== undefined && tls.enabled && tls.domains.length > 0 && tls.cert_file === undefined;
  if (sections.hasPostgres && !sections.hasCache && !acmeUsesPostgres) {
    issues.push({
      path: 'postgres',
      message:
        '[postgres] invalidates the response cache and keeps ACME certificates, and neither is configured ([cache], or [tls] ordering certificates for domains); ' +
        'fix: add [cache] (size_bytes = 67108864), or remove [postgres]',
    });
  }
  const { cache, server } = sections;
  if (cache === undefined || server === undefined) return;
  const threads = resolveWorkerThreads(server.worker_threads);
  const share = Math.floor(cache.size_bytes / threads);
  if (cache.max_object_bytes > share) {
    const each = threads === 1 ? `size_bytes (${cache.size_bytes})` : `each proxy thread's share of size_bytes (${cache.size_bytes} / ${threads} threads = ${share})`;
    issues.push({
      path: 'cache.max_object_bytes',
      message: `expected at most ${each}, found ${cache.max_object_bytes}; fix: raise size_bytes or lower max_object_bytes`,
    });
  }
}

/** Runs every cross-field check; returns the issues found (empty = consistent). */
export function checkSections(sections: CheckedSections): ConfigIssue[] {
  const issues: ConfigIssue[] = [];

  if (sections.upstreams.size === 0) {
    issues.push({ path: 'upstreams', message: 'expected at least one [upstreams.NAME] table, found none; fix: add [upstreams.app] with host = "127.0.0.1" and port = 3000' });
  }
  const parsed = new Map<string, UpstreamConfig>();
  for (const [name, upstream] of sections.upstreams) {
    if (!upstreamName.test(name)) {
      issues.push({
        path: `upstreams.${JSON.stringify(name)}`,
        message: 'expected a name of letters, digits, "_" and "-"; fix: rename the upstream (names appear in instance ids like name#0)',
      });
    }
    if (upstream === undefined) continue;
    checkUpstream(name, upstream, sections.baseDir, issues);
    parsed.set(name, upstream);
  }
  // Process dependencies need every upstream to have parsed, else "unknown" would be a guess.
  if (parsed.size === sections.upstreams.size) issues.push(...planProcessOrder(parsed).issues);

  if (sections.routes !== undefined && sections.routes.length === 0) {
    issues.push({
      path: 'routes',
      message: 'expected at least one [[routes]] entry, found none (every request would get 404); fix: add [[routes]] with path_prefix = "/" and upstream = "<name>"',
    });
  }
  checkRoutes(sections, issues);

  checkLogging(sections.middleware, issues);
  checkAdmin(sections.admin, sections.server, sections.baseDir, issues);
  checkCache(sections, issues);
  issues.push(...checkTls(sections));
  return issues;
}
