/**
 * The configuration of static files, X-Sendfile and compression: schema entries,
 * checks and compilation, in one place.
 *
 * Route keys (`[[routes]]`):
 *   static_root = "public"                 files tried before the upstream
 *   static_dotfiles = false                serve names starting with "." (.well-known always is)
 *   static_fingerprint_pattern = "..."     regex; matching paths are cached for a year ("" = none)
 * Middleware keys (`[middleware]`):
 *   x_sendfile_enabled = true
 *   x_sendfile_roots = ["/var/app/private"]
 *   x_accel_mappings = [{ prefix = "/private/", root = "/var/app/private" }]
 *   gzip_compression_enabled = true
 *   compression = ["br", "gzip"]           codings offered, most preferred first
 *   compression_types = [...]              media types worth compressing
 *   compression_min_bytes = 1024
 *   compression_gzip_level = 5, compression_brotli_level = 4
 *   static_cache_mb = 16                   small-file cache per proxy thread (0 = off)
 *
 * Relative paths are resolved against the directory of the config file (in simple
 * mode, which has no such keys, the working directory). Directories must exist when
 * the config is loaded: `warpdrive check` says so rather than every request failing.
 *
 * A key that belongs to a feature that is off is an error, not silently ignored.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import * as v from 'valibot';
import { defaultCompressibleTypes, mediaTypePattern } from '../compression/compressible-types.js';
import { DEFAULT_FINGERPRINT_PATTERN } from '../files/static-files.js';
import type { ConfigIssue } from './errors.js';
import { describeValue, didYouMean } from './errors.js';
import { boolean, expect, integer, regexError, table, text } from './schema-parts.js';
import type { CompressionSpec, StaticFilesSpec, XSendfileSpec } from './types.js';

// ---------------------------------------------------------------------------
// Defaults (docs/compression.md and docs/files.md give the measurements behind them)

export const DEFAULT_COMPRESSION_CODINGS = ['br', 'gzip'] as const;
export const DEFAULT_COMPRESSION_MIN_BYTES = 1024;
export const DEFAULT_GZIP_LEVEL = 5;
export const DEFAULT_BROTLI_LEVEL = 4;
export const DEFAULT_STATIC_CACHE_MB = 16;
/** Files above this are streamed from disk, never cached. */
export const STATIC_CACHE_MAX_FILE_BYTES = 256 * 1024;

// ---------------------------------------------------------------------------
// Schema entries, spread into RouteSchema and MiddlewareSchema

const regexSource = v.pipe(
  v.string(expect('a regular expression string')),
  v.check(
    (input) => regexError(input) === undefined,
    (issue) => `expected a valid regular expression, found ${describeValue(issue.input)}: ${regexError(String(issue.input))}`,
  ),
);

export const staticRouteEntries = {
  static_root: v.optional(text('a directory path')),
  static_dotfiles: v.optional(boolean),
  static_fingerprint_pattern: v.optional(regexSource),
};

export const compressionCodings = ['br', 'gzip'] as const;

const compressionCoding = v.picklist(compressionCodings, (issue) => {
  const suggestion = typeof issue.input === 'string' ? didYouMean(issue.input, compressionCodings) : '';
  const why =
    issue.input === 'deflate' || issue.input === 'zstd'
      ? `; ${String(issue.input)} is not offered (every client that accepts it accepts gzip${issue.input === 'zstd' ? ', and Node 20 has no zstd' : ''})`
      : '';
  return `expected "br" or "gzip", found ${describeValue(issue.input)}${suggestion}${why}`;
});

const accelPrefix = v.pipe(
  v.string(expect('a URI prefix such as "/private/"')),
  v.check(
    (input) => input.startsWith('/') && input.endsWith('/'),
    expect('a URI prefix starting and ending with "/", such as "/private/"', (input) => `write "/${String(input).replace(/^\/+|\/+$/g, '')}/"`),
  ),
);

export const AccelMappingSchema = table({ prefix: accelPrefix, root: text('a directory path') }, 'an x_accel_mappings entry');

/**
 * No schema defaults below: the checks must see whether a key was written (a key set
 * while its feature is off is an error); the compile functions fill the defaults.
 */
export const fileMiddlewareEntries = {
  x_sendfile_roots: v.optional(v.array(text('a directory path'), expect('an array of directory paths'))),
  x_accel_mappings: v.optional(v.array(AccelMappingSchema, expect('an array of { prefix = "/private/", root = "/var/app/private" } tables'))),
  compression: v.optional(
    v.pipe(
      v.array(compressionCoding, expect('an array such as ["br", "gzip"]')),
      v.nonEmpty(expect('at least one of "br", "gzip"', 'or set gzip_compression_enabled = false')),
      v.check((list) => new Set(list).size === list.length, expect('each coding once')),
    ),
  ),
  compression_types: v.optional(
    v.array(
      v.pipe(v.string(expect('a media type')), v.toLowerCase(), v.regex(mediaTypePattern, expect('a media type such as "application/json" or "text/*"'))),
      expect('an array of media types'),
    ),
  ),
  compression_min_bytes: v.optional(integer(0, 1073741824, 'a byte count 0-1073741824')),
  compression_gzip_level: v.optional(integer(1, 9, 'a gzip level 1-9')),
  compression_brotli_level: v.optional(integer(0, 11, 'a brotli quality 0-11')),
  static_cache_mb: v.optional(integer(0, 4096, 'a whole number of megabytes 0-4096 (0 = no cache)')),
};

const StaticRouteSchema = v.object(staticRouteEntries);
const FileMiddlewareSchema = v.object(fileMiddlewareEntries);

/** What the checks read of a route (its static keys and the keys that need an upstream). */
export type StaticRouteConfig = v.InferOutput<typeof StaticRouteSchema> & {
  readonly upstream?: string | undefined;
  readonly add_headers?: readonly unknown[];
  readonly connect_timeout_secs?: number | undefined;
  readonly read_timeout_secs?: number | undefined;
  readonly request_timeout_secs?: number | undefined;
};

/** What the checks read of `[middleware]`. */
export type FileMiddlewareConfig = v.InferOutput<typeof FileMiddlewareSchema> & {
  readonly x_sendfile_enabled: boolean;
  readonly gzip_compression_enabled: boolean;
};

// ---------------------------------------------------------------------------
// Paths

/**
 * The directory relative paths are resolved against: the config file's, or the
 * working directory in simple mode (`source` is then "environment").
 */
export function configDirectory(source: string): string {
  return source === 'environment' ? process.cwd() : dirname(resolve(source));
}

export function resolveConfigPath(configDir: string, path: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(configDir, path);
}

/** An issue when `path` is not an existing directory; the message shows where a relative path led. */
function checkDirectory(configDir: string, path: string, at: string, issues: ConfigIssue[]): void {
  const absolute = resolveConfigPath(configDir, path);
  const where = isAbsolute(path) ? absolute : `${absolute} (relative paths start from the config file's directory, ${configDir})`;
  let isDirectory: boolean | undefined;
  try {
    isDirectory = statSync(absolute, { throwIfNoEntry: false })?.isDirectory();
  } catch (error) {
    issues.push({ path: at, message: `cannot read ${where}: ${(error as Error).message}; fix: check its permissions` });
    return;
  }
  if (isDirectory === undefined) issues.push({ path: at, message: `directory not found: ${where}; fix: create it or correct the path` });
  else if (!isDirectory) issues.push({ path: at, message: `not a directory: ${where}; fix: name the directory that holds the files` });
}

// ---------------------------------------------------------------------------
// Checks

const UPSTREAM_ONLY_ROUTE_KEYS = ['connect_timeout_secs', 'read_timeout_secs', 'request_timeout_secs'] as const;

/** Issues of one parsed route's file keys (`at` is `routes[i]`). */
export function checkStaticRoute(route: StaticRouteConfig, at: string, configDir: string, issues: ConfigIssue[]): void {
  const root = route.static_root;
  if (root === undefined) {
    if (route.upstream === undefined) {
      issues.push({
        path: `${at}.upstream`,
        message: 'required key "upstream" is missing from a route; fix: add upstream = ... (an [upstreams.NAME]), or static_root = "public" for a route that only serves files',
      });
    }
    for (const key of ['static_dotfiles', 'static_fingerprint_pattern'] as const) {
      if (route[key] !== undefined) issues.push({ path: `${at}.${key}`, message: `set without static_root; fix: add static_root = "public" or remove ${key}` });
    }
    return;
  }
  checkDirectory(configDir, root, `${at}.static_root`, issues);
  if (route.upstream !== undefined) return;
  // A files-only route: keys that shape the upstream request have nothing to act on.
  if (route.add_headers !== undefined && route.add_headers.length > 0) {
    issues.push({ path: `${at}.add_headers`, message: 'this route only serves files (no upstream), so no request goes anywhere to add headers to; fix: remove add_headers or add upstream = ...' });
  }
  for (const key of UPSTREAM_ONLY_ROUTE_KEYS) {
    if (route[key] !== undefined) {
      issues.push({ path: `${at}.${key}`, message: `this route only serves files (no upstream), so there is no upstream to time out; fix: remove ${key} or add upstream = ...` });
    }
  }
}

/** Issues of `[middleware]`'s file and compression keys. */
export function checkFileMiddleware(middleware: FileMiddlewareConfig, anyStaticRoute: boolean, configDir: string, issues: ConfigIssue[]): void {
  const roots = middleware.x_sendfile_roots;
  const mappings = middleware.x_accel_mappings;
  if (!middleware.x_sendfile_enabled) {
    for (const key of ['x_sendfile_roots', 'x_accel_mappings'] as const) {
      if (middleware[key] !== undefined) issues.push({ path: `middleware.${key}`, message: 'set while x_sendfile_enabled is false; fix: set x_sendfile_enabled = true, or remove it' });
    }
  } else if ((roots === undefined || roots.length === 0) && (mappings === undefined || mappings.length === 0)) {
    issues.push({
      path: 'middleware.x_sendfile_enabled',
      message:
        'true, but no directory is allowed to serve files from, so every X-Sendfile would be refused; fix: add x_sendfile_roots = ["/var/app/private"] ' +
        'or x_accel_mappings = [{ prefix = "/private/", root = "/var/app/private" }]',
    });
  }
  roots?.forEach((root, i) => checkDirectory(configDir, root, `middleware.x_sendfile_roots[${i}]`, issues));
  const prefixes = new Map<string, number>();
  mappings?.forEach((mapping, i) => {
    checkDirectory(configDir, mapping.root, `middleware.x_accel_mappings[${i}].root`, issues);
    const first = prefixes.get(mapping.prefix);
    if (first !== undefined) {
      issues.push({ path: `middleware.x_accel_mappings[${i}].prefix`, message: `"${mapping.prefix}" is already mapped by x_accel_mappings[${first}]; fix: give each mapping its own prefix` });
    } else prefixes.set(mapping.prefix, i);
  });

  if (!middleware.gzip_compression_enabled) {
    for (const key of ['compression', 'compression_types', 'compression_min_bytes', 'compression_gzip_level', 'compression_brotli_level'] as const) {
      if (middleware[key] !== undefined) issues.push({ path: `middleware.${key}`, message: 'set while gzip_compression_enabled is false; fix: set gzip_compression_enabled = true, or remove it' });
    }
  }
  if (middleware.static_cache_mb !== undefined && !anyStaticRoute) {
    issues.push({ path: 'middleware.static_cache_mb', message: 'set, but no route has static_root, so there are no files to cache; fix: remove it, or add static_root to a route' });
  }
}

/**
 * Every check of this module over the parsed sections (a section or route that
 * failed its schema is undefined and skipped).
 */
export function checkFileSettings(
  routes: readonly (StaticRouteConfig | undefined)[] | undefined,
  middleware: FileMiddlewareConfig | undefined,
  configDir: string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  routes?.forEach((route, i) => {
    if (route !== undefined) checkStaticRoute(route, `routes[${i}]`, configDir, issues);
  });
  const anyStaticRoute = routes?.some((route) => route?.static_root !== undefined) ?? false;
  if (middleware !== undefined) checkFileMiddleware(middleware, anyStaticRoute, configDir, issues);
  return issues;
}

// ---------------------------------------------------------------------------
// Compilation (for configs that passed the checks)

export function compileStaticFiles(route: StaticRouteConfig, configDir: string): StaticFilesSpec | undefined {
  if (route.static_root === undefined) return undefined;
  const pattern = route.static_fingerprint_pattern ?? DEFAULT_FINGERPRINT_PATTERN;
  return {
    root: resolveConfigPath(configDir, route.static_root),
    serveDotfiles: route.static_dotfiles ?? false,
    fingerprintPattern: pattern === '' ? undefined : pattern,
  };
}

export function compileXSendfile(middleware: FileMiddlewareConfig, configDir: string): XSendfileSpec | undefined {
  if (!middleware.x_sendfile_enabled) return undefined;
  return {
    roots: (middleware.x_sendfile_roots ?? []).map((root) => resolveConfigPath(configDir, root)),
    accelMappings: (middleware.x_accel_mappings ?? []).map((m) => ({ prefix: m.prefix, root: resolveConfigPath(configDir, m.root) })),
  };
}

export function compileCompression(middleware: FileMiddlewareConfig): CompressionSpec | undefined {
  if (!middleware.gzip_compression_enabled) return undefined;
  return {
    codings: [...(middleware.compression ?? DEFAULT_COMPRESSION_CODINGS)],
    types: [...(middleware.compression_types ?? defaultCompressibleTypes)],
    minBytes: middleware.compression_min_bytes ?? DEFAULT_COMPRESSION_MIN_BYTES,
    gzipLevel: middleware.compression_gzip_level ?? DEFAULT_GZIP_LEVEL,
    brotliLevel: middleware.compression_brotli_level ?? DEFAULT_BROTLI_LEVEL,
  };
}

/** Bytes of small-file cache per proxy thread: 0 when no route serves files. */
export function compileStaticCacheBytes(middleware: FileMiddlewareConfig, anyStaticRoute: boolean): number {
  return anyStaticRoute ? (middleware.static_cache_mb ?? DEFAULT_STATIC_CACHE_MB) * 1024 * 1024 : 0;
}
