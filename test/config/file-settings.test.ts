/**
 * Settings of static files, X-Sendfile and compression: parsing, the checks
 * (each error names the key and the fix), and compilation with paths resolved
 * against the config file's directory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { parse } from 'smol-toml';
import {
  checkFileMiddleware,
  checkStaticRoute,
  compileCompression,
  compileStaticCacheBytes,
  compileStaticFiles,
  compileXSendfile,
  configDirectory,
  fileMiddlewareEntries,
  staticRouteEntries,
  type FileMiddlewareConfig,
  type StaticRouteConfig,
} from '../../src/config/file-settings.js';
import type { ConfigIssue } from '../../src/config/errors.js';
import { defaultCompressibleTypes } from '../../src/compression/compressible-types.js';
import { DEFAULT_FINGERPRINT_PATTERN } from '../../src/files/static-files.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wd-filecfg-'));
  mkdirSync(join(dir, 'public'));
  mkdirSync(join(dir, 'private'));
  writeFileSync(join(dir, 'not-a-dir'), '');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const middlewareSchema = v.object({ x_sendfile_enabled: v.optional(v.boolean(), false), gzip_compression_enabled: v.optional(v.boolean(), false), ...fileMiddlewareEntries });
const routeSchema = v.object({ upstream: v.optional(v.string()), add_headers: v.optional(v.array(v.unknown())), connect_timeout_secs: v.optional(v.number()), ...staticRouteEntries });

function middleware(toml: string): FileMiddlewareConfig {
  return v.parse(middlewareSchema, parse(toml));
}
function route(toml: string): StaticRouteConfig {
  return v.parse(routeSchema, parse(toml));
}
function schemaError(schema: v.GenericSchema, toml: string): string {
  const result = v.safeParse(schema, parse(toml));
  assert.equal(result.success, false, `expected ${toml} to be refused`);
  return result.success ? '' : result.issues[0]!.message;
}
function middlewareIssues(toml: string, anyStaticRoute = false): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  checkFileMiddleware(middleware(toml), anyStaticRoute, dir, issues);
  return issues;
}
function routeIssues(toml: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  checkStaticRoute(route(toml), 'routes[0]', dir, issues);
  return issues;
}

describe('static routes', () => {
  test('static_root relative to the config file; defaults', () => {
    assert.deepEqual(routeIssues('static_root = "public"\nupstream = "app"'), []);
    assert.deepEqual(compileStaticFiles(route('static_root = "public"'), dir), { root: join(dir, 'public'), serveDotfiles: false, fingerprintPattern: DEFAULT_FINGERPRINT_PATTERN });
    assert.deepEqual(compileStaticFiles(route(`static_root = "${join(dir, 'public')}"\nstatic_dotfiles = true\nstatic_fingerprint_pattern = ""`), '/elsewhere'), {
      root: join(dir, 'public'),
      serveDotfiles: true,
      fingerprintPattern: undefined,
    });
    assert.equal(compileStaticFiles(route('upstream = "app"'), dir), undefined);
    assert.equal(configDirectory('/etc/warpdrive/warpdrive.toml'), '/etc/warpdrive');
    assert.equal(configDirectory('environment'), process.cwd());
  });

  test('a files-only route (no upstream) is fine', () => {
    assert.deepEqual(routeIssues('static_root = "public"'), []);
  });

  const errors: [string, string, string, string][] = [
    ['neither upstream nor static_root', 'path_prefix = "/"', 'routes[0].upstream', 'required key "upstream" is missing from a route; fix: add upstream = ... (an [upstreams.NAME]), or static_root = "public" for a route that only serves files'],
    ['a missing directory', 'static_root = "nope"', 'routes[0].static_root', `directory not found: ${join(dir, 'nope')} (relative paths start from the config file's directory, ${dir}); fix: create it or correct the path`],
    ['an absolute missing directory', `static_root = "${join(dir, 'nope')}"`, 'routes[0].static_root', `directory not found: ${join(dir, 'nope')}; fix: create it or correct the path`],
    ['a file', 'static_root = "not-a-dir"', 'routes[0].static_root', `not a directory: ${join(dir, 'not-a-dir')} (relative paths start from the config file's directory, ${dir}); fix: name the directory that holds the files`],
    ['static_dotfiles alone', 'upstream = "app"\nstatic_dotfiles = true', 'routes[0].static_dotfiles', 'set without static_root; fix: add static_root = "public" or remove static_dotfiles'],
    ['a pattern alone', 'upstream = "app"\nstatic_fingerprint_pattern = "x"', 'routes[0].static_fingerprint_pattern', 'set without static_root; fix: add static_root = "public" or remove static_fingerprint_pattern'],
    ['add_headers on a files-only route', 'static_root = "public"\nadd_headers = [{ name = "x", value = "y" }]', 'routes[0].add_headers', 'this route only serves files (no upstream), so no request goes anywhere to add headers to; fix: remove add_headers or add upstream = ...'],
    ['a timeout on a files-only route', 'static_root = "public"\nconnect_timeout_secs = 1', 'routes[0].connect_timeout_secs', 'this route only serves files (no upstream), so there is no upstream to time out; fix: remove connect_timeout_secs or add upstream = ...'],
  ];
  for (const [name, toml, path, message] of errors) {
    test(`error: ${name}`, () => assert.deepEqual(routeIssues(toml), [{ path, message }]));
  }

  test('schema: an invalid fingerprint pattern names the regex error', () => {
    assert.match(schemaError(routeSchema, 'static_fingerprint_pattern = "(["'), /^expected a valid regular expression, found "\(\[": Invalid regular expression/);
  });
});

describe('X-Sendfile settings', () => {
  test('roots and mappings, relative to the config file', () => {
    const config = middleware('x_sendfile_enabled = true\nx_sendfile_roots = ["private"]\nx_accel_mappings = [{ prefix = "/files/", root = "public" }]');
    assert.deepEqual(checkIssues(config), []);
    assert.deepEqual(compileXSendfile(config, dir), { roots: [join(dir, 'private')], accelMappings: [{ prefix: '/files/', root: join(dir, 'public') }] });
    assert.equal(compileXSendfile(middleware(''), dir), undefined);
  });

  const errors: [string, string, string, string][] = [
    ['enabled with nowhere to serve from', 'x_sendfile_enabled = true', 'middleware.x_sendfile_enabled', 'true, but no directory is allowed to serve files from, so every X-Sendfile would be refused; fix: add x_sendfile_roots = ["/var/app/private"] or x_accel_mappings = [{ prefix = "/private/", root = "/var/app/private" }]'],
    ['roots while disabled', 'x_sendfile_roots = ["private"]', 'middleware.x_sendfile_roots', 'set while x_sendfile_enabled is false; fix: set x_sendfile_enabled = true, or remove it'],
    ['mappings while disabled', 'x_accel_mappings = [{ prefix = "/p/", root = "private" }]', 'middleware.x_accel_mappings', 'set while x_sendfile_enabled is false; fix: set x_sendfile_enabled = true, or remove it'],
    ['a missing root', 'x_sendfile_enabled = true\nx_sendfile_roots = ["nope"]', 'middleware.x_sendfile_roots[0]', `directory not found: ${join(dir, 'nope')} (relative paths start from the config file's directory, ${dir}); fix: create it or correct the path`],
    ['a missing mapping root', 'x_sendfile_enabled = true\nx_accel_mappings = [{ prefix = "/p/", root = "/nonexistent-wd" }]', 'middleware.x_accel_mappings[0].root', 'directory not found: /nonexistent-wd; fix: create it or correct the path'],
    ['a prefix mapped twice', 'x_sendfile_enabled = true\nx_accel_mappings = [{ prefix = "/p/", root = "private" }, { prefix = "/p/", root = "public" }]', 'middleware.x_accel_mappings[1].prefix', '"/p/" is already mapped by x_accel_mappings[0]; fix: give each mapping its own prefix'],
  ];
  for (const [name, toml, path, message] of errors) {
    test(`error: ${name}`, () => assert.deepEqual(middlewareIssues(toml), [{ path, message }]));
  }

  test('schema: a prefix without slashes, a mapping without root or with an unknown key', () => {
    assert.equal(schemaError(middlewareSchema, 'x_accel_mappings = [{ prefix = "private", root = "x" }]'), 'expected a URI prefix starting and ending with "/", such as "/private/", found "private"; fix: write "/private/"');
    assert.equal(schemaError(middlewareSchema, 'x_accel_mappings = [{ prefix = "files", root = "x" }]'), 'expected a URI prefix starting and ending with "/", such as "/private/", found "files"; fix: write "/files/"');
    assert.equal(middleware('x_accel_mappings = [{ prefix = "/", root = "x" }]').x_accel_mappings?.[0]?.prefix, '/', 'the whole URI space may map to one root');
    assert.match(schemaError(middlewareSchema, 'x_accel_mappings = [{ prefix = "/p/" }]'), /required key "root" is missing from an x_accel_mappings entry/);
    assert.match(schemaError(middlewareSchema, 'x_accel_mappings = [{ prefix = "/p/", root = "x", url = "y" }]'), /unknown key "url" in an x_accel_mappings entry/);
  });
});

function checkIssues(config: FileMiddlewareConfig, anyStaticRoute = false): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  checkFileMiddleware(config, anyStaticRoute, dir, issues);
  return issues;
}

describe('compression settings', () => {
  test('defaults when enabled, undefined when not', () => {
    assert.deepEqual(compileCompression(middleware('gzip_compression_enabled = true')), {
      codings: ['br', 'gzip'],
      types: [...defaultCompressibleTypes],
      minBytes: 1024,
      gzipLevel: 5,
      brotliLevel: 4,
    });
    assert.equal(compileCompression(middleware('')), undefined);
  });

  test('every key', () => {
    const config = middleware(
      'gzip_compression_enabled = true\ncompression = ["gzip"]\ncompression_types = ["Application/JSON", "text/*"]\ncompression_min_bytes = 0\ncompression_gzip_level = 1\ncompression_brotli_level = 11',
    );
    assert.deepEqual(checkIssues(config), []);
    assert.deepEqual(compileCompression(config), { codings: ['gzip'], types: ['application/json', 'text/*'], minBytes: 0, gzipLevel: 1, brotliLevel: 11 });
  });

  test('a compression key while compression is off is an error', () => {
    for (const key of ['compression = ["gzip"]', 'compression_types = ["text/html"]', 'compression_min_bytes = 10', 'compression_gzip_level = 3', 'compression_brotli_level = 3']) {
      const name = key.split(' ')[0];
      assert.deepEqual(middlewareIssues(key), [{ path: `middleware.${name}`, message: 'set while gzip_compression_enabled is false; fix: set gzip_compression_enabled = true, or remove it' }]);
    }
  });

  test('schema errors name what is expected', () => {
    assert.equal(schemaError(middlewareSchema, 'compression = ["gzp"]'), 'expected "br" or "gzip", found "gzp" (did you mean "gzip"?)');
    assert.equal(schemaError(middlewareSchema, 'compression = ["deflate"]'), 'expected "br" or "gzip", found "deflate"; deflate is not offered (every client that accepts it accepts gzip)');
    assert.equal(schemaError(middlewareSchema, 'compression = ["zstd"]'), 'expected "br" or "gzip", found "zstd"; zstd is not offered (every client that accepts it accepts gzip, and Node 20 has no zstd)');
    assert.equal(schemaError(middlewareSchema, 'compression = []'), 'expected at least one of "br", "gzip", found an array of 0; fix: or set gzip_compression_enabled = false');
    assert.equal(schemaError(middlewareSchema, 'compression = ["gzip", "gzip"]'), 'expected each coding once, found an array of 2');
    assert.equal(schemaError(middlewareSchema, 'compression_types = ["text html"]'), 'expected a media type such as "application/json" or "text/*", found "text html"');
    assert.equal(schemaError(middlewareSchema, 'compression_gzip_level = 10'), 'expected a gzip level 1-9, found 10');
    assert.equal(schemaError(middlewareSchema, 'compression_brotli_level = -1'), 'expected a brotli quality 0-11, found -1');
  });
});

describe('static_cache_mb', () => {
  test('16 MiB per thread by default when a route serves files; 0 turns it off; 0 bytes with no static route', () => {
    assert.equal(compileStaticCacheBytes(middleware(''), true), 16 * 1024 * 1024);
    assert.equal(compileStaticCacheBytes(middleware('static_cache_mb = 0'), true), 0);
    assert.equal(compileStaticCacheBytes(middleware(''), false), 0);
  });
  test('set with no static route is an error', () => {
    assert.deepEqual(middlewareIssues('static_cache_mb = 8'), [
      { path: 'middleware.static_cache_mb', message: 'set, but no route has static_root, so there are no files to cache; fix: remove it, or add static_root to a route' },
    ]);
    assert.deepEqual(middlewareIssues('static_cache_mb = 8', true), []);
  });
});

describe('through loadConfig', () => {
  test('a complete file: paths relative to the config file, the plan carries every setting', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const file = join(dir, 'warpdrive.toml');
    writeFileSync(
      file,
      `
[upstreams.app]
host = "127.0.0.1"
port = 3000

[[routes]]
path_prefix = "/assets"
static_root = "public"

[[routes]]
path_prefix = "/"
upstream = "app"
static_root = "public"
static_dotfiles = true

[middleware]
x_sendfile_enabled = true
x_accel_mappings = [{ prefix = "/private/", root = "private" }]
gzip_compression_enabled = true
compression = ["gzip"]
static_cache_mb = 4
`,
    );
    const plan = loadConfig({ configFile: file, env: {} });
    assert.equal(plan.routes[0]!.upstream, undefined);
    assert.deepEqual(plan.routes[0]!.staticFiles, { root: join(dir, 'public'), serveDotfiles: false, fingerprintPattern: DEFAULT_FINGERPRINT_PATTERN });
    assert.equal(plan.routes[1]!.staticFiles?.serveDotfiles, true);
    assert.deepEqual(plan.middleware.xSendfile, { roots: [], accelMappings: [{ prefix: '/private/', root: join(dir, 'private') }] });
    assert.deepEqual(plan.middleware.compression?.codings, ['gzip']);
    assert.equal(plan.middleware.staticCacheBytes, 4 * 1024 * 1024);
  });

  test('every problem in one error, naming the file and the keys', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const { ConfigError } = await import('../../src/config/errors.js');
    const file = join(dir, 'broken.toml');
    writeFileSync(
      file,
      `
[upstreams.app]
host = "127.0.0.1"
port = 3000

[[routes]]
path_prefix = "/"
static_root = "no-such-dir"
request_timeout_secs = 5

[middleware]
x_sendfile_enabled = true
compression = ["gzip"]
`,
    );
    assert.throws(
      () => loadConfig({ configFile: file, env: {} }),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(
          error.issues.map((issue) => issue.path),
          ['routes[0].static_root', 'routes[0].request_timeout_secs', 'middleware.x_sendfile_enabled', 'middleware.compression'],
        );
        assert.match(error.message, new RegExp(`^invalid configuration in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(4 problems\\):`));
        return true;
      },
    );
  });
});

describe('check and routes describe the file settings', () => {
  test('the plan summary, the route table and --explain', async () => {
    const { parseConfig, formatPlanSummary } = await import('../../src/config/index.js');
    const { explainMatch, formatRoutesTable } = await import('../../src/cli/routes.js');
    const plan = parseConfig(
      `
[upstreams.app]
host = "127.0.0.1"
port = 3000
[[routes]]
path_prefix = "/downloads"
static_root = "public"
static_fingerprint_pattern = ""
[[routes]]
path_prefix = "/"
upstream = "app"
static_root = "public"
[middleware]
gzip_compression_enabled = true
compression = ["gzip"]
x_sendfile_enabled = true
x_sendfile_roots = ["private"]
`,
      join(dir, 'warpdrive.toml'),
    );
    const summary = formatPlanSummary(plan);
    assert.match(summary, /^compression: gzip level 5; 24 media types; bodies from 1024 bytes$/m);
    assert.match(summary, new RegExp(`^x-sendfile: X-Sendfile; roots ${join(dir, 'private')}$`, 'm'));
    assert.match(summary, /^static file cache: 16 MiB per proxy thread$/m);
    assert.match(summary, new RegExp(`^  1\\. path under /downloads -> files from ${join(dir, 'public')}, else 404$`, 'm'));
    assert.match(summary, /^ {5}then: no immutable caching$/m);
    assert.match(summary, new RegExp(`^  2\\. path under / -> files from ${join(dir, 'public')}, else app$`, 'm'));
    const table = formatRoutesTable(plan.routes);
    assert.match(table, /files, else 404/);
    assert.match(table, /files, else app/);
    assert.match(explainMatch(plan.routes, 'GET', 'http://example.com/downloads/x.zip', {}), new RegExp(`Route #1 matches: files from ${join(dir, 'public')} \\(GET/HEAD\\), else 404\\.`));
    assert.match(explainMatch(plan.routes, 'GET', 'http://example.com/users', {}), new RegExp(`Route #2 matches: files from ${join(dir, 'public')} \\(GET/HEAD\\), else upstream "app"\\.`));
    const off = formatPlanSummary(parseConfig('[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n[[routes]]\nupstream = "app"\n', join(dir, 'plain.toml')));
    assert.match(off, /^compression: off$/m);
    assert.match(off, /^x-sendfile: off$/m);
    assert.doesNotMatch(off, /static file cache/);
  });
});
