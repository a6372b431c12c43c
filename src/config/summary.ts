/**
 * `warpdrive check` output: what the plan will do, in the order it will do it.
 *
 * @module
 */

import { ENVIRONMENT_SOURCE } from './load.js';
import type { AdminSpec, CacheSpec, CompressionSpec, InstanceAddress, ProcessSpec, RouteSpec, RuntimePlan, UpstreamSpec, XSendfileSpec } from './types.js';

const secs = (ms: number): string => `${ms / 1000}s`;

function formatAddress(address: InstanceAddress): string {
  return address.kind === 'unix' ? `unix:${address.socketPath}` : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** `baseDir`: a process running there (the default) needs no mention of its cwd. */
function formatProcess(process: ProcessSpec, baseDir: string): string {
  const command = [process.command, ...process.args].map((part) => (/\s/.test(part) ? JSON.stringify(part) : part)).join(' ');
  const extras: string[] = [];
  if (process.cwd !== undefined && process.cwd !== baseDir) extras.push(`cwd ${process.cwd}`);
  if (process.dependsOn.length > 0) extras.push(`after ${process.dependsOn.join(', ')}`);
  if (process.maxMemoryMb !== undefined) extras.push(`max ${process.maxMemoryMb} MB`);
  const envNames = Object.keys(process.env);
  if (envNames.length > 0) extras.push(`env ${envNames.join(', ')}`);
  return extras.length === 0 ? command : `${command} (${extras.join('; ')})`;
}

function formatUpstream(upstream: UpstreamSpec, baseDir: string): string[] {
  const lines = [`  ${upstream.name}: ${upstream.strategy}, ${upstream.instances.length} instance${upstream.instances.length === 1 ? '' : 's'}`];
  for (const instance of upstream.instances) {
    const weight = instance.weight === 1 ? '' : ` weight ${instance.weight}`;
    lines.push(`    ${instance.id} ${formatAddress(instance.address)}${weight}`);
    if (instance.process !== undefined) lines.push(`      process: ${formatProcess(instance.process, baseDir)}`);
  }
  if (upstream.process !== undefined) lines.push(`    process: ${formatProcess(upstream.process, baseDir)}`);
  const { health, passive } = upstream;
  if (health !== undefined) {
    lines.push(
      `    health: GET ${health.path} every ${secs(health.intervalMs)} (timeout ${secs(health.timeoutMs)}, ` +
        `down after ${health.unhealthyThreshold}, up after ${health.healthyThreshold}, ok ${health.expectStatusMin}-${health.expectStatusMax})`,
    );
  }
  lines.push(
    passive.maxFails === 0
      ? '    passive ejection: off'
      : `    passive ejection: after ${passive.maxFails} failures for ${secs(passive.failTimeoutMs)} (up to ${secs(passive.maxEjectionMs)})${passive.count5xx ? ', 5xx counts' : ''}`,
  );
  lines.push(
    `    timeouts: connect ${secs(upstream.connectTimeoutMs)}, read ${secs(upstream.readTimeoutMs)}, keep-alive ${secs(upstream.keepAliveTimeoutMs)}; ` +
      `max ${upstream.maxConnectionsPerInstance} connections/instance; retries ${upstream.retries}`,
  );
  return lines;
}

/** Where a route sends a request: `rails`, `files from /app/public, else rails`, `files from /app/public, else 404`. */
export function routeTarget(route: RouteSpec): string {
  const files = route.staticFiles;
  if (files === undefined) return route.upstream ?? '404';
  return `files from ${files.root}, else ${route.upstream ?? '404'}`;
}

function formatRoute(route: RouteSpec, cache: CacheSpec | undefined): string[] {
  const { match } = route;
  const conditions: string[] = [];
  if (match.host !== undefined) conditions.push(`host ${match.host}`);
  if (match.pathExact !== undefined) conditions.push(`path = ${match.pathExact}`);
  if (match.pathPrefix !== undefined) conditions.push(`path under ${match.pathPrefix}`);
  if (match.pathRegex !== undefined) conditions.push(`path ~ /${match.pathRegex}/`);
  if (match.methods !== undefined) conditions.push(`method ${match.methods.join('|')}`);
  if (match.header !== undefined) conditions.push(`header ${match.header.name}: ${match.header.value}`);
  const actions: string[] = [];
  if (route.stripPrefix) actions.push('strip prefix');
  if (route.rewrite !== undefined) actions.push(`rewrite prefix to ${route.rewrite}`);
  for (const pair of route.addHeaders) actions.push(`add ${pair.name}: ${pair.value}`);
  if (route.requireAuth) actions.push('require X-Admin-Token');
  if (route.connectTimeoutMs !== undefined) actions.push(`connect timeout ${secs(route.connectTimeoutMs)}`);
  if (route.readTimeoutMs !== undefined) actions.push(`read timeout ${secs(route.readTimeoutMs)}`);
  if (route.requestTimeoutMs !== undefined) actions.push(`request timeout ${secs(route.requestTimeoutMs)}`);
  const files = route.staticFiles;
  if (files !== undefined) {
    if (files.serveDotfiles) actions.push('dotfiles served');
    actions.push(files.fingerprintPattern === undefined ? 'no immutable caching' : `immutable caching for paths ~ /${files.fingerprintPattern}/`);
  }
  // Files-only routes never reach the cache. Only a route's own TTL is shown; the [cache] default is on the cache line.
  if (cache !== undefined && route.upstream !== undefined) {
    if (route.cache === undefined) actions.push('not cached');
    else if (route.cache.defaultTtlMs !== undefined && route.cache.defaultTtlMs !== cache.defaultTtlMs) actions.push(`cache default TTL ${secs(route.cache.defaultTtlMs)}`);
  }

  const when = conditions.length === 0 ? 'any request' : conditions.join(' and ');
  const lines = [`  ${route.index + 1}. ${when} -> ${routeTarget(route)}${route.description === undefined ? '' : `  # ${route.description}`}`];
  if (actions.length > 0) lines.push(`     then: ${actions.join(', ')}`);
  return lines;
}

function formatAdmin(admin: AdminSpec | undefined): string {
  if (admin === undefined) return 'off (no [admin] section)';
  const where = admin.listen.kind === 'unix' ? `unix:${admin.listen.socketPath}` : `http://${admin.listen.host.includes(':') ? `[${admin.listen.host}]` : admin.listen.host}:${admin.listen.port}`;
  return `${where} (metrics at /metrics, dashboard at /, API under /api/; ${admin.token === undefined ? 'no token' : 'token required'})`;
}

/** Bytes in the largest binary unit that divides them evenly enough to read: `64 MiB`, `1536 KiB`, `1000 bytes`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size && bytes % (size / 4) === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** A URL for display: any password is replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** What the cache will do, a line per tier (`warpdrive check` and the startup log). */
export function describeCache(plan: RuntimePlan): string[] {
  const { cache, postgres, server } = plan;
  if (cache === undefined) return ['cache: off'];
  const threads = server.workerThreads;
  const share = threads > 1 ? ` (${formatBytes(Math.floor(cache.sizeBytes / threads))} per proxy thread)` : '';
  const ignored = [...cache.ignoreQueryParams.names, ...cache.ignoreQueryParams.prefixes.map((p) => `${p}*`)];
  const lines = [
    `cache: ${formatBytes(cache.sizeBytes)} in memory${share}, objects up to ${formatBytes(cache.maxObjectBytes)}, ` +
      `concurrent misses wait up to ${secs(cache.lockTimeoutMs)}; ` +
      (cache.defaultTtlMs === undefined ? 'responses without freshness are not cached' : `default TTL ${secs(cache.defaultTtlMs)}`) +
      (ignored.length === 0 ? '' : `; query parameters left out of keys: ${ignored.join(', ')}`),
    cache.redisUrl === undefined
      ? '  shared tier (Redis): none'
      : `  shared tier (Redis): ${redactUrl(cache.redisUrl)}, keys under "${cache.redisKeyPrefix}", lookups give up after ${cache.redisTimeoutMs} ms`,
    postgres === undefined
      ? '  invalidation: unsafe requests and `warpdrive purge` only (no [postgres])'
      : `  invalidation: LISTEN "${postgres.channel}" on ${redactUrl(postgres.url)}`,
  ];
  return lines;
}

function formatCompression(compression: CompressionSpec | undefined): string {
  if (compression === undefined) return 'compression: off';
  const levels = compression.codings.map((c) => (c === 'gzip' ? `gzip level ${compression.gzipLevel}` : `br quality ${compression.brotliLevel}`));
  return `compression: ${levels.join(', ')}; ${compression.types.length} media types; bodies from ${compression.minBytes} bytes`;
}

function formatXSendfile(xSendfile: XSendfileSpec | undefined): string {
  if (xSendfile === undefined) return 'x-sendfile: off';
  const parts = xSendfile.accelMappings.length > 0
    ? [`X-Accel-Redirect, ${xSendfile.accelMappings.map((m) => `${m.prefix} -> ${m.root}`).join(', ')}`]
    : ['X-Sendfile'];
  if (xSendfile.roots.length > 0) parts.push(`roots ${xSendfile.roots.join(', ')}`);
  return `x-sendfile: ${parts.join('; ')}`;
}

/** A human-readable description of the plan, for `warpdrive check`. */
export function formatPlanSummary(plan: RuntimePlan): string {
  const { server, middleware } = plan;
  const host = server.bindAddress.includes(':') ? `[${server.bindAddress}]` : server.bindAddress;
  const lines = [
    `config: ${plan.source}`,
    `relative paths from: ${plan.baseDir}${plan.source === ENVIRONMENT_SOURCE ? ' (the working directory)' : " (the config file's directory; processes run there unless they set cwd)"}`,
    `listen: http://${host}:${server.httpPort}${server.httpPort === 0 ? ' (any free port)' : ''}`,
    `proxy threads: ${server.workerThreads}${server.workerThreads > 1 ? ' (sharing the port; the supervisor runs in a thread of its own)' : ''}`,
    `limits: headers ${server.maxHeaderBytes} bytes, body ${server.maxBodyBytes === undefined ? 'unlimited' : `${server.maxBodyBytes} bytes`}, ` +
      `idle ${secs(server.idleTimeoutMs)}, shutdown grace ${secs(server.shutdownTimeoutMs)}` +
      (server.requestBodyChunked === 'reject' ? ', chunked request bodies refused (411)' : ''),
    `middleware: forward headers ${middleware.forwardHeaders ? 'on' : 'off'}, trusted proxies ${middleware.trustedProxies.length === 0 ? 'none' : middleware.trustedProxies.join(', ')}, ` +
      `request log ${middleware.logRequests ? `on (${middleware.logFormat}, to ${middleware.logFile ?? 'stdout'})` : 'off'}, X-Request-Id ${middleware.requestId ? 'on' : 'off'}, ` +
      `X-Request-Start ${middleware.requestStartHeader ? 'on' : 'off'}, admin token ${middleware.adminToken === undefined ? 'not set' : 'set'}`,
    formatCompression(middleware.compression),
    formatXSendfile(middleware.xSendfile),
    `admin: ${formatAdmin(plan.admin)}`,
  ];
  if (middleware.staticCacheBytes > 0) lines.push(`static file cache: ${middleware.staticCacheBytes / 1048576} MiB per proxy thread`);
  lines.push(`upstreams (${plan.upstreams.size}):`);
  for (const upstream of plan.upstreams.values()) lines.push(...formatUpstream(upstream, plan.baseDir));
  lines.push(`routes (${plan.routes.length}, first match wins):`);
  for (const route of plan.routes) lines.push(...formatRoute(route, plan.cache));
  lines.push(`process start order: ${plan.processOrder.length === 0 ? 'none' : plan.processOrder.join(', ')}`);
  lines.push(...describeCache(plan));
  return lines.join('\n');
}
