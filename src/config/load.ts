/**
 * Loading: TOML text (or env vars alone) -> RuntimePlan, or one ConfigError
 * listing every problem.
 *
 * Pipeline: TOML syntax -> schema, section by section (so one bad route does not
 * hide the others' problems) -> env overrides (env wins) -> cross-field checks
 * -> compile(). `warpdrive check` runs exactly this without listening.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as v from 'valibot';
import { parse as parseToml, TomlError } from 'smol-toml';
import { checkSections, unknownUpstreamIssue } from './checks.js';
import { checkFileSettings } from './file-settings.js';
import { compile } from './compile.js';
import { configBaseDir } from './resolve-config-path.js';
import { unavailableFeatures } from './unavailable.js';
import { readEnvOverrides, readSimpleTarget } from './env.js';
import type { EnvOverrides } from './env.js';
import { ConfigError, didYouMean, tomlPath } from './errors.js';
import type { ConfigIssue } from './errors.js';
import { RouteSchema, UpstreamSchema, sectionSchemas, topLevelKeys } from './schema.js';
import type { AdminConfig, Config, MiddlewareConfig, RouteConfig, ServerConfig, UpstreamConfig } from './schema.js';
import type { RuntimePlan } from './types.js';
import { readFileCertificates } from '../tls/certificate-files.js';

/** Plan source used in simple mode (no config file). */
export const ENVIRONMENT_SOURCE = 'environment';

const knownTopLevel: readonly string[] = topLevelKeys;

/** Runs one schema on one part of the document, prefixing issue paths with where it sits. */
function parsePart<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  at: readonly (string | number)[],
  issues: ConfigIssue[],
): v.InferOutput<S> | undefined {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  // One issue per key: a pipe keeps checking after a failure (0.5 is neither an
  // integer nor >= 1), and the first message already says what is expected.
  const reported = new Set<string>();
  for (const issue of result.issues) {
    const keys = (issue.path ?? []).map((item) => item.key as string | number);
    const path = tomlPath([...at, ...keys]);
    if (reported.has(path)) continue;
    reported.add(path);
    issues.push({ path, message: issue.message });
  }
  return undefined;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
}

function applyServerOverrides(server: ServerConfig, overrides: EnvOverrides): ServerConfig {
  return {
    ...server,
    http_port: overrides.httpPort ?? server.http_port,
    bind_address: overrides.bindAddress ?? server.bind_address,
    max_header_bytes: overrides.maxHeaderBytes ?? server.max_header_bytes,
    shutdown_timeout_secs: overrides.shutdownTimeoutSecs ?? server.shutdown_timeout_secs,
  };
}

function applyMiddlewareOverrides(middleware: MiddlewareConfig, overrides: EnvOverrides): MiddlewareConfig {
  return {
    ...middleware,
    admin_token: overrides.adminToken ?? middleware.admin_token,
    log_requests: overrides.logRequests ?? middleware.log_requests,
    trusted_proxies: overrides.trustedProxies === undefined ? middleware.trusted_proxies : [...overrides.trustedProxies],
  };
}

/**
 * Validates a parsed TOML document (or the document simple mode synthesises),
 * applies env overrides and compiles; `issues` may already hold env problems.
 * Relative paths in the document resolve against `baseDir`.
 */
function planFromDocument(raw: unknown, source: string, baseDir: string, overrides: EnvOverrides, issues: ConfigIssue[]): RuntimePlan {
  if (!isTable(raw)) throw new ConfigError(source, [...issues, { path: '', message: 'expected a TOML document of tables' }]);

  for (const key of Object.keys(raw)) {
    if (!knownTopLevel.includes(key)) {
      const suggestion = didYouMean(key, topLevelKeys);
      issues.push({
        path: tomlPath([key]),
        message: `unknown top-level key "${key}"${suggestion}${suggestion === '' ? `; valid sections: ${topLevelKeys.map((k) => `[${k}]`).join(', ')}` : ''}`,
      });
    }
  }

  const parsedServer = parsePart(sectionSchemas.server, raw.server ?? {}, ['server'], issues);
  const parsedMiddleware = parsePart(sectionSchemas.middleware, raw.middleware ?? {}, ['middleware'], issues);
  const tls = raw.tls === undefined ? undefined : parsePart(sectionSchemas.tls, raw.tls, ['tls'], issues);
  const cache = raw.cache === undefined ? undefined : parsePart(sectionSchemas.cache, raw.cache, ['cache'], issues);
  const postgres = raw.postgres === undefined ? undefined : parsePart(sectionSchemas.postgres, raw.postgres, ['postgres'], issues);
  const parsedAdmin = raw.admin === undefined ? undefined : parsePart(sectionSchemas.admin, raw.admin, ['admin'], issues);

  const upstreams = new Map<string, UpstreamConfig | undefined>();
  if (raw.upstreams !== undefined && !isTable(raw.upstreams)) {
    issues.push({ path: 'upstreams', message: 'expected tables written as [upstreams.NAME], found a value; fix: write [upstreams.NAME] tables (docs/configuration.md)' });
  } else if (raw.upstreams !== undefined) {
    for (const [name, table] of Object.entries(raw.upstreams)) {
      upstreams.set(name, parsePart(UpstreamSchema, table, ['upstreams', name], issues));
    }
  }

  let routes: (RouteConfig | undefined)[] | undefined = [];
  if (raw.routes !== undefined && !Array.isArray(raw.routes)) {
    issues.push({ path: 'routes', message: 'expected an array of tables written as [[routes]], found a single value; fix: write each route under its own [[routes]] header' });
    routes = undefined;
  } else if (raw.routes !== undefined) {
    routes = (raw.routes as unknown[]).map((route, i) => parsePart(RouteSchema, route, ['routes', i], issues));
  }

  // A route that failed the schema is skipped by the checks, but the upstream it
  // names is still worth checking: otherwise fixing its typo reveals a new error.
  routes?.forEach((route, i) => {
    const rawRoute = (raw.routes as unknown[])[i];
    if (route !== undefined || !isTable(rawRoute) || typeof rawRoute.upstream !== 'string') return;
    const path = `routes[${i}].upstream`;
    if (issues.some((issue) => issue.path === path)) return;
    const unknown = unknownUpstreamIssue(path, rawRoute.upstream, upstreams);
    if (unknown !== undefined) issues.push(unknown);
  });

  const server = parsedServer === undefined ? undefined : applyServerOverrides(parsedServer, overrides);
  const middleware = parsedMiddleware === undefined ? undefined : applyMiddlewareOverrides(parsedMiddleware, overrides);
  const admin: AdminConfig | undefined = parsedAdmin === undefined ? undefined : { ...parsedAdmin, token: overrides.adminApiToken ?? parsedAdmin.token };
  issues.push(
    ...checkSections({
      server,
      tls,
      upstreams,
      routes,
      middleware,
      admin,
      baseDir,
      cache,
      hasCache: raw.cache !== undefined,
      postgres,
      hasPostgres: raw.postgres !== undefined,
    }),
  );
  issues.push(...checkFileSettings(routes, middleware, baseDir));
  issues.push(...unavailableFeatures({ server, tls }));

  if (issues.length > 0) throw new ConfigError(source, issues);

  // Every part parsed (no issues), so the undefined cases below cannot occur.
  const config: Config = {
    server: server!,
    tls,
    upstreams: Object.fromEntries(upstreams) as Record<string, UpstreamConfig>,
    routes: routes as RouteConfig[],
    cache,
    postgres,
    middleware: middleware!,
    admin,
  };
  const plan = compile(config, source, baseDir);
  // Certificate files are judged as a start would serve them: readable, key matching, valid now, covering their names.
  if (plan.tls?.enabled === true) {
    const fileIssues = readFileCertificates(plan.tls.fileCertificates, new Date()).issues;
    if (fileIssues.length > 0) throw new ConfigError(source, fileIssues);
  }
  return plan;
}

/** Describes a TOML syntax error with its position and the offending line. */
function syntaxIssue(error: TomlError, text: string): ConfigIssue {
  const reason = error.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
  const line = text.split(/\r?\n/)[error.line - 1]?.trim() ?? '';
  const near = line === '' ? '' : ` near \`${line.length > 60 ? `${line.slice(0, 57)}...` : line}\``;
  return { path: '', message: `TOML syntax error at line ${error.line}, column ${error.column}: ${reason}${near}; fix: correct the TOML syntax there` };
}

/**
 * Parses TOML text into a RuntimePlan (env overrides applied). Throws ConfigError
 * listing every problem. `source` names the text in messages and `plan.source`;
 * relative paths in the text resolve against `baseDir`, by default the directory of
 * `source` taken as a file path.
 */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = {}, baseDir: string = configBaseDir(source)): RuntimePlan {
  const issues: ConfigIssue[] = [];
  const overrides = readEnvOverrides(env, issues);
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    throw new ConfigError(source, [...issues, syntaxIssue(error, text)]);
  }
  return planFromDocument(raw, source, baseDir, overrides, issues);
}

/** Simple mode: one upstream "default" from WARPDRIVE_TARGET_*, one catch-all route. */
function planFromEnvironment(env: NodeJS.ProcessEnv): RuntimePlan {
  const issues: ConfigIssue[] = [];
  const overrides = readEnvOverrides(env, issues);
  const target = readSimpleTarget(env, issues);
  if (issues.length > 0) throw new ConfigError(ENVIRONMENT_SOURCE, issues);
  const document = { upstreams: { default: { ...target } }, routes: [{ upstream: 'default', path_prefix: '/' }] };
  // No file: WARPDRIVE_TARGET_SOCKET is relative to where the shell that set it stands.
  return planFromDocument(document, ENVIRONMENT_SOURCE, configBaseDir(undefined), overrides, issues);
}

function readConfigFile(file: string, origin: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const absolute = resolve(file);
    const reason =
      code === 'ENOENT'
        ? `config file not found: ${absolute}; fix: check the path given by ${origin}, or run without it for simple mode (WARPDRIVE_TARGET_HOST/PORT)`
        : code === 'EISDIR'
          ? `config path is a directory: ${absolute}; fix: point ${origin} at the .toml file inside it`
          : code === 'EACCES'
            ? `config file is not readable: ${absolute}; fix: check its permissions`
            : `cannot read config file ${absolute}: ${(error as Error).message}`;
    throw new ConfigError(file, [{ path: '', message: reason }]);
  }
}

/**
 * Loads the configuration: `configFile` (from --config), else WARPDRIVE_CONFIG,
 * else simple mode from WARPDRIVE_TARGET_*. Env overrides always apply.
 * Throws ConfigError.
 */
export function loadConfig(options: { configFile?: string | undefined; env?: NodeJS.ProcessEnv }): RuntimePlan {
  const env = options.env ?? process.env;
  const fromEnv = env.WARPDRIVE_CONFIG?.trim();
  const file = options.configFile ?? (fromEnv === '' ? undefined : fromEnv);
  if (file === undefined) return planFromEnvironment(env);
  const origin = options.configFile !== undefined ? '--config' : 'WARPDRIVE_CONFIG';
  return parseConfig(readConfigFile(file, origin), file, env);
}
