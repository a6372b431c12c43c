/**
 * Bad configurations: each must name the key path in TOML terms and say how to
 * fix it. Table-driven; every case asserts the path and a hint from the message.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { closestMatch, editDistance } from '../../src/config/errors.js';
import { catchConfigError, validBase } from './fixtures.js';

const app = '[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n';
const route = (body: string): string => `${app}[[routes]]\nupstream = "app"\n${body}\n`;
const upstream = (body: string): string => `[upstreams.app]\n${body}\n[[routes]]\nupstream = "app"\n`;

interface BadCase {
  readonly name: string;
  readonly toml: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly path: string;
  /** Fragments the issue's message must contain (expected/found/fix/suggestion). */
  readonly hints: readonly string[];
}

const cases: BadCase[] = [
  // Misspelt keys, with suggestions
  { name: 'misspelt path_prefix', toml: route('path_prefx = "/api"'), path: 'routes[0].path_prefx', hints: ['unknown key "path_prefx"', 'did you mean "path_prefix"?'] },
  { name: 'misspelt strategy key', toml: upstream('host = "127.0.0.1"\nport = 3000\nstratgy = "random"'), path: 'upstreams.app.stratgy', hints: ['did you mean "strategy"?'] },
  { name: 'misspelt section', toml: `${validBase}[midleware]\nlog_requests = true\n`, path: 'midleware', hints: ['did you mean "middleware"?'] },
  { name: 'misspelt health key', toml: upstream('host = "127.0.0.1"\nport = 3000\n[upstreams.app.health]\npath = "/up"\nintervl_secs = 3'), path: 'upstreams.app.health.intervl_secs', hints: ['did you mean "interval_secs"?'] },
  { name: 'misspelt process key', toml: upstream('host = "127.0.0.1"\nport = 3000\nprocess.comand = "node"'), path: 'upstreams.app.process.comand', hints: ['did you mean "command"?'] },
  { name: 'unrelated unknown key lists the valid ones', toml: route('colour = "blue"'), path: 'routes[0].colour', hints: ['unknown key "colour"', 'valid keys: upstream, host, path_prefix'] },
  // Routes
  { name: 'unknown upstream, close to a real one', toml: `${app}[[routes]]\nupstream = "ap"\n`, path: 'routes[0].upstream', hints: ['unknown upstream "ap"', 'did you mean "app"?', 'define [upstreams.ap]'] },
  { name: 'unknown upstream, nothing close', toml: `${app}[[routes]]\nupstream = "billing"\n`, path: 'routes[0].upstream', hints: ['unknown upstream "billing"', 'use one of: app'] },
  { name: 'route without upstream', toml: `${app}[[routes]]\npath_prefix = "/"\n`, path: 'routes[0].upstream', hints: ['required key "upstream" is missing', 'add upstream = ...'] },
  { name: 'invalid regex', toml: route('path_regex = "^/users/(["'), path: 'routes[0].path_regex', hints: ['expected a valid regular expression', 'Invalid regular expression'] },
  { name: 'path_prefix without slash', toml: route('path_prefix = "api"'), path: 'routes[0].path_prefix', hints: ['starting with "/"', 'found "api"', 'write "/api"'] },
  { name: 'path_exact without slash', toml: route('path_exact = "health"'), path: 'routes[0].path_exact', hints: ['starting with "/"', 'write "/health"'] },
  { name: 'rewrite without slash', toml: route('path_prefix = "/old"\nrewrite = "new"'), path: 'routes[0].rewrite', hints: ['starting with "/"', 'write "/new"'] },
  { name: 'strip_prefix without a path', toml: route('strip_prefix = true'), path: 'routes[0].strip_prefix', hints: ['needs path_prefix or path_exact', 'add path_prefix'] },
  { name: 'rewrite without a path', toml: route('rewrite = "/v2"'), path: 'routes[0].rewrite', hints: ['needs path_prefix or path_exact'] },
  { name: 'rewrite with strip_prefix', toml: route('path_prefix = "/a"\nrewrite = "/b"\nstrip_prefix = true'), path: 'routes[0].rewrite', hints: ['strip_prefix', 'rewrite = "/" strips'] },
  { name: 'path_exact with path_prefix', toml: route('path_prefix = "/a"\npath_exact = "/a/b"'), path: 'routes[0].path_exact', hints: ['keep one of them'] },
  { name: 'strip_prefix not a boolean', toml: route('path_prefix = "/a"\nstrip_prefix = "yes"'), path: 'routes[0].strip_prefix', hints: ['expected true or false', 'found "yes"'] },
  { name: 'host with a port', toml: route('host = "example.com:8080"'), path: 'routes[0].host', hints: ['no port', 'remove the port'] },
  { name: 'host with an inner wildcard', toml: route('host = "api.*.example.com"'), path: 'routes[0].host', hints: ['one leading wildcard'] },
  { name: 'bad method token', toml: route('methods = ["GET", "GE T"]'), path: 'routes[0].methods[1]', hints: ['HTTP method name', 'found "GE T"'] },
  { name: 'empty methods list', toml: route('methods = []'), path: 'routes[0].methods', hints: ['at least one method'] },
  { name: 'bad header name', toml: route('header = { name = "X API", value = "1" }'), path: 'routes[0].header.name', hints: ['expected a header name'] },
  { name: 'header missing value', toml: route('header = { name = "X-API" }'), path: 'routes[0].header.value', hints: ['required key "value"'] },
  { name: 'add_headers value with newline', toml: route('add_headers = [{ name = "X-A", value = "a\\r\\nb" }]'), path: 'routes[0].add_headers[0].value', hints: ['without line breaks'] },
  // undici refuses these when sending: every request of the route would fail.
  { name: 'add_headers value with a control character', toml: route('add_headers = [{ name = "X-A", value = "a\\u007fb" }]'), path: 'routes[0].add_headers[0].value', hints: ['other control characters'] },
  { name: 'add_headers setting a framing header', toml: route('add_headers = [{ name = "Transfer-Encoding", value = "chunked" }]'), path: 'routes[0].add_headers[0]', hints: ['"transfer-encoding"', 'writes for each hop itself', 'remove this add_headers entry'] },
  { name: 'add_headers setting Connection', toml: route('add_headers = [{ name = "connection", value = "close" }]'), path: 'routes[0].add_headers[0]', hints: ['"connection"'] },
  { name: 'require_auth without a token', toml: route('require_auth = true'), path: 'routes[0].require_auth', hints: ['admin_token', 'WARPDRIVE_ADMIN_TOKEN'] },
  { name: 'negative route timeout', toml: route('read_timeout_secs = -1'), path: 'routes[0].read_timeout_secs', hints: ['seconds > 0', 'found -1'] },
  { name: 'route after a catch-all', toml: `${validBase}[[routes]]\npath_prefix = "/api"\nupstream = "app"\n`, path: 'routes[1]', hints: ['never matches', 'routes[0]'] },
  { name: 'duplicate route conditions', toml: `${app}[[routes]]\npath_prefix = "/a"\nupstream = "app"\n[[routes]]\npath_prefix = "/a"\nupstream = "app"\n`, path: 'routes[1]', hints: ['never matches'] },
  { name: 'routes written as a table', toml: `${app}[routes]\nupstream = "app"\n`, path: 'routes', hints: ['[[routes]]'] },
  { name: 'no routes', toml: app, path: 'routes', hints: ['at least one [[routes]]', 'path_prefix = "/"'] },
  // Upstreams
  { name: 'no upstreams', toml: '[server]\nhttp_port = 8080\n', path: 'upstreams', hints: ['at least one [upstreams.NAME]'] },
  { name: 'socket with host', toml: upstream('socket = "/tmp/a.sock"\nhost = "127.0.0.1"\nport = 3000'), path: 'upstreams.app.socket', hints: ['host/port', 'not both'] },
  { name: 'host without port', toml: upstream('host = "127.0.0.1"'), path: 'upstreams.app.port', hints: ['expected a port', 'add port = 3000'] },
  { name: 'port without host', toml: upstream('port = 3000'), path: 'upstreams.app.host', hints: ['add host = "127.0.0.1"'] },
  { name: 'host with a scheme', toml: upstream('host = "http://127.0.0.1"\nport = 3000'), path: 'upstreams.app.host', hints: ['without scheme', 'drop the scheme'] },
  { name: 'host with a port', toml: upstream('host = "127.0.0.1:3000"\nport = 3000'), path: 'upstreams.app.host', hints: ['port in port = 3000'] },
  { name: 'bracketed IPv6 host', toml: upstream('host = "[::1]"\nport = 3000'), path: 'upstreams.app.host', hints: ['drop the brackets'] },
  { name: 'empty host', toml: upstream('host = ""\nport = 3000'), path: 'upstreams.app.host', hints: ['host name or IP address'] },
  { name: 'port out of range', toml: upstream('host = "127.0.0.1"\nport = 70000'), path: 'upstreams.app.port', hints: ['port number 1-65535', 'found 70000'] },
  { name: 'port as a string', toml: upstream('host = "127.0.0.1"\nport = "3000"'), path: 'upstreams.app.port', hints: ['port number', 'found "3000"'] },
  { name: 'empty pool', toml: upstream('strategy = "random"'), path: 'upstreams.app', hints: ['expected an address', 'found none'] },
  { name: 'empty instances list', toml: upstream('instances = []'), path: 'upstreams.app', hints: ['expected an address'] },
  { name: 'instances and a top-level address', toml: upstream('host = "127.0.0.1"\nport = 3000\n[[upstreams.app.instances]]\nsocket = "/tmp/a.sock"'), path: 'upstreams.app.instances', hints: ['set together with a top-level'] },
  { name: 'instance without address', toml: upstream('[[upstreams.app.instances]]\nweight = 2'), path: 'upstreams.app.instances[0]', hints: ['found neither'] },
  { name: 'instance host without port', toml: upstream('[[upstreams.app.instances]]\nhost = "127.0.0.1"'), path: 'upstreams.app.instances[0].port', hints: ['add port'] },
  { name: 'duplicate instance', toml: upstream('[[upstreams.app.instances]]\nsocket = "/tmp/a.sock"\n[[upstreams.app.instances]]\nsocket = "/tmp/a.sock"'), path: 'upstreams.app.instances[1]', hints: ['same address as upstreams.app.instances[0]'] },
  { name: 'zero weight', toml: upstream('[[upstreams.app.instances]]\nsocket = "/tmp/a.sock"\nweight = 0'), path: 'upstreams.app.instances[0].weight', hints: ['weight > 0', 'found 0'] },
  { name: 'unknown strategy', toml: upstream('host = "127.0.0.1"\nport = 3000\nstrategy = "round_robbin"'), path: 'upstreams.app.strategy', hints: ['expected one of round_robin, least_conn, random, ip_hash', 'did you mean "round_robin"?'] },
  { name: 'bad expected_status', toml: upstream('host = "127.0.0.1"\nport = 3000\n[upstreams.app.health]\npath = "/up"\nexpected_status = "399-200"'), path: 'upstreams.app.health.expected_status', hints: ['"200-399"'] },
  { name: 'health without path', toml: upstream('host = "127.0.0.1"\nport = 3000\n[upstreams.app.health]\ninterval_secs = 5'), path: 'upstreams.app.health.path', hints: ['required key "path"'] },
  { name: 'health timeout not below interval', toml: upstream('host = "127.0.0.1"\nport = 3000\n[upstreams.app.health]\npath = "/up"\ninterval_secs = 2\ntimeout_secs = 2'), path: 'upstreams.app.health.timeout_secs', hints: ['less than interval_secs'] },
  { name: 'negative max_fails', toml: upstream('host = "127.0.0.1"\nport = 3000\npassive = { max_fails = -1 }'), path: 'upstreams.app.passive.max_fails', hints: ['0 disables'] },
  { name: 'process without command', toml: upstream('host = "127.0.0.1"\nport = 3000\nprocess.args = ["x"]'), path: 'upstreams.app.process.command', hints: ['required key "command"'] },
  { name: 'process args not strings', toml: upstream('host = "127.0.0.1"\nport = 3000\nprocess.command = "x"\nprocess.args = [1]'), path: 'upstreams.app.process.args[0]', hints: ['string argument'] },
  { name: 'process on upstream and instance', toml: upstream('process.command = "x"\n[[upstreams.app.instances]]\nsocket = "/tmp/a.sock"\nprocess.command = "y"'), path: 'upstreams.app.instances[0].process', hints: ['not both'] },
  { name: 'depends_on an unknown upstream', toml: upstream('host = "127.0.0.1"\nport = 3000\nprocess.command = "x"\nprocess.depends_on = ["ap"]'), path: 'upstreams.app.process.depends_on', hints: ['unknown upstream "ap"', 'did you mean "app"?'] },
  { name: 'upstream name with a space', toml: `[upstreams."my app"]\nhost = "127.0.0.1"\nport = 3000\n[[routes]]\nupstream = "my app"\n`, path: 'upstreams."my app"', hints: ['letters, digits'] },
  { name: 'health as an array', toml: upstream('host = "127.0.0.1"\nport = 3000\nhealth = []'), path: 'upstreams.app.health', hints: ['expected health (a TOML table)', 'found an array'] },
  { name: 'server as an array', toml: `server = [1]\n${validBase}`, path: 'server', hints: ['expected [server] (a TOML table)'] },
  { name: 'upstream is a value, not a table', toml: `upstreams = 3\n`, path: 'upstreams', hints: ['[upstreams.NAME]'] },
  // Server, TLS, middleware, cache, postgres
  { name: 'http_port negative', toml: `${validBase}[server]\nhttp_port = -1\n`, path: 'server.http_port', hints: ['0-65535', 'found -1'] },
  { name: 'https_port equal to http_port', toml: `${validBase}[server]\nhttp_port = 8080\nhttps_port = 8080\n`, path: 'server.https_port', hints: ['other than http_port'] },
  { name: 'bind_address not an IP', toml: `${validBase}[server]\nbind_address = "everywhere"\n`, path: 'server.bind_address', hints: ['IP address'] },
  { name: 'worker_threads zero', toml: `${validBase}[server]\nworker_threads = 0\n`, path: 'server.worker_threads', hints: ['1-256'] },
  { name: 'worker_threads a word other than auto', toml: `${validBase}[server]\nworker_threads = "all"\n`, path: 'server.worker_threads', hints: ['1-256', '"auto"', 'found "all"'] },
  { name: 'fractional max_header_bytes', toml: `${validBase}[server]\nmax_header_bytes = 2048.5\n`, path: 'server.max_header_bytes', hints: ['byte count'] },
  { name: 'tls enabled with nothing to serve', toml: `${validBase}[tls]\nenabled = true\n`, path: 'tls', hints: ['domains', 'cert_file/key_file', '[[tls.certificates]]'] },
  { name: 'tls cert without key', toml: `${validBase}[tls]\ncert_file = "c.pem"\n`, path: 'tls.key_file', hints: ['together'] },
  { name: 'https_port without tls', toml: `${validBase}[server]\nhttps_port = 8443\n`, path: 'server.https_port', hints: ['TLS is not configured', 'enabled = true'] },
  { name: 'tls enabled without https_port', toml: `${validBase}[tls]\nenabled = true\ndomains = ["example.com"]\nacme_directory = "/tmp/acme"\n`, path: 'server.https_port', hints: ['is missing', 'https_port = 443'] },
  { name: 'acme domains without acme_directory', toml: `${validBase}[server]\nhttps_port = 8443\n[tls]\nenabled = true\ndomains = ["example.com"]\n`, path: 'tls.acme_directory', hints: ['rate limits', 'acme_directory = "/var/lib/warpdrive/acme"', '[postgres]'] },
  { name: 'wildcard acme domain', toml: `${validBase}[server]\nhttps_port = 8443\n[tls]\nenabled = true\ndomains = ["*.example.com"]\nacme_directory = "/tmp/acme"\n`, path: 'tls.domains[0]', hints: ['wildcard', 'DNS-01', '[[tls.certificates]]'] },
  { name: 'acme_ca misspelt word', toml: `${validBase}[tls]\nacme_ca = "letsencrpyt"\n`, path: 'tls.acme_ca', hints: ['"letsencrypt-staging"', 'did you mean "letsencrypt"?'] },
  { name: 'acme_ca over http', toml: `${validBase}[tls]\nacme_ca = "http://ca.example/dir"\n`, path: 'tls.acme_ca', hints: ['https', 'RFC 8555'] },
  { name: 'email with mailto', toml: `${validBase}[tls]\nemail = "mailto:ops@example.com"\n`, path: 'tls.email', hints: ['without "mailto:"'] },
  { name: 'eab key not base64url', toml: `${validBase}[tls.eab]\nkid = "k"\nhmac_key = "not base64!"\n`, path: 'tls.eab.hmac_key', hints: ['base64url'] },
  { name: 'eab with the default CA', toml: `${validBase}[server]\nhttps_port = 8443\n[tls]\nenabled = true\ndomains = ["example.com"]\nacme_directory = "/tmp/acme"\n[tls.eab]\nkid = "k"\nhmac_key = "c2VjcmV0c2VjcmV0c2VjcmV0"\n`, path: 'tls.eab', hints: ['Let\'s Encrypt', 'acme_ca'] },
  { name: 'acme setting beside cert_file', toml: `${validBase}[tls]\ncert_file = "c.pem"\nkey_file = "k.pem"\nemail = "ops@example.com"\n`, path: 'tls.email', hints: ['no effect', 'remove email'] },
  { name: 'acme setting without domains', toml: `${validBase}[tls]\nacme_ca = "letsencrypt-staging"\n`, path: 'tls.acme_ca', hints: ['no domains'] },
  { name: 'a name served twice', toml: `${validBase}[tls]\ndomains = ["a.test"]\nacme_directory = "/tmp/acme"\n[[tls.certificates]]\ndomains = ["a.test"]\ncert_file = "c.pem"\nkey_file = "k.pem"\n`, path: 'tls.certificates[0].domains[0]', hints: ['already served by tls.domains[0]'] },
  { name: 'certificates entry without domains', toml: `${validBase}[[tls.certificates]]\ndomains = []\ncert_file = "c.pem"\nkey_file = "k.pem"\n`, path: 'tls.certificates[0].domains', hints: ['at least one domain name'] },
  { name: 'certificates entry without key', toml: `${validBase}[[tls.certificates]]\ndomains = ["a.test"]\ncert_file = "c.pem"\n`, path: 'tls.certificates[0].key_file', hints: ['required key "key_file"'] },
  { name: 'hsts max age negative', toml: `${validBase}[tls]\nhsts_max_age_secs = -1\n`, path: 'tls.hsts_max_age_secs', hints: ['0-63072000'] },
  { name: 'https_redirect without tls', toml: route('https_redirect = false'), path: 'routes[0].https_redirect', hints: ['only matters', 'remove https_redirect'] },
  { name: 'bad trusted proxy', toml: `${validBase}[middleware]\ntrusted_proxies = ["10.0.0.0/33"]\n`, path: 'middleware.trusted_proxies[0]', hints: ['IP address or CIDR', 'found "10.0.0.0/33"'] },
  { name: 'empty admin token', toml: `${validBase}[middleware]\nadmin_token = ""\n`, path: 'middleware.admin_token', hints: ['non-empty'] },
  { name: 'redis url with wrong scheme', toml: `${validBase}[cache]\nredis_url = "http://localhost"\n`, path: 'cache.redis_url', hints: ['redis://'] },
  { name: 'postgres without url', toml: `${validBase}[cache]\n[postgres]\nchannel = "x"\n`, path: 'postgres.url', hints: ['required key "url"'] },
  { name: 'postgres without cache or ACME', toml: `${validBase}[postgres]\nurl = "postgres://localhost/app"\n`, path: 'postgres', hints: ['neither is configured', 'add [cache]'] },
  { name: 'postgres channel too long', toml: `${validBase}[cache]\n[postgres]\nurl = "postgres://localhost/app"\nchannel = "${'c'.repeat(64)}"\n`, path: 'postgres.channel', hints: ['at most 63 bytes'] },
  { name: 'cache size below 1 KiB', toml: `${validBase}[cache]\nsize_bytes = 10\n`, path: 'cache.size_bytes', hints: ['at least 1024', 'found 10'] },
  { name: 'max object larger than the cache', toml: `${validBase}[cache]\nsize_bytes = 4096\nmax_object_bytes = 8192\n`, path: 'cache.max_object_bytes', hints: ['at most size_bytes (4096)', 'found 8192', 'lower max_object_bytes'] },
  {
    name: 'max object larger than one thread\'s share',
    toml: `${validBase}[server]\nworker_threads = 4\n[cache]\nsize_bytes = 2097152\n`,
    path: 'cache.max_object_bytes',
    hints: ["each proxy thread's share", '2097152 / 4 threads = 524288', 'found 1048576'],
  },
  { name: 'ignored query param with an equals sign', toml: `${validBase}[cache]\nignore_query_params = ["utm=1"]\n`, path: 'cache.ignore_query_params[0]', hints: ['query parameter name', 'found "utm=1"'] },
  { name: 'ignored query param with a star inside', toml: `${validBase}[cache]\nignore_query_params = ["u*m"]\n`, path: 'cache.ignore_query_params[0]', hints: ['"*" only at the end'] },
  { name: 'redis prefix with a glob character', toml: `${validBase}[cache]\nredis_key_prefix = "wd*"\n`, path: 'cache.redis_key_prefix', hints: ['glob characters'] },
  { name: 'redis timeout of a minute', toml: `${validBase}[cache]\nredis_timeout_secs = 60\n`, path: 'cache.redis_timeout_secs', hints: ['at most 10'] },
  { name: 'negative lock timeout', toml: `${validBase}[cache]\nlock_timeout_secs = -1\n`, path: 'cache.lock_timeout_secs', hints: ['>= 0'] },
  { name: 'zero default ttl', toml: `${validBase}[cache]\ndefault_ttl_secs = 0\n`, path: 'cache.default_ttl_secs', hints: ['> 0'] },
  { name: 'route cache = true without [cache]', toml: route('cache = true'), path: 'routes[0].cache', hints: ['needs a [cache] section'] },
  { name: 'route cache ttl without [cache]', toml: route('cache_default_ttl_secs = 5'), path: 'routes[0].cache_default_ttl_secs', hints: ['without a [cache] section'] },
  { name: 'route cache ttl with cache = false', toml: `${route('cache = false\ncache_default_ttl_secs = 5')}[cache]\n`, path: 'routes[0].cache_default_ttl_secs', hints: ['together with cache = false'] },
  { name: 'route cache not a boolean', toml: `${route('cache = "no"')}[cache]\n`, path: 'routes[0].cache', hints: ['true or false'] },
];

describe('bad configurations name the key and the fix', () => {
  for (const badCase of cases) {
    it(badCase.name, () => {
      const error = catchConfigError(() => parseConfig(badCase.toml, 'bad.toml', badCase.env ?? {}));
      const issue = error.issues.find((candidate) => candidate.path === badCase.path);
      assert.ok(issue, `no issue at ${badCase.path}; got:\n${error.message}`);
      for (const hint of badCase.hints) assert.ok(issue.message.includes(hint), `"${hint}" missing from: ${issue.message}`);
      assert.ok(error.message.includes(`${badCase.path}: ${issue.message}`) || badCase.path === '', 'the summary message carries the issue line');
    });
  }
});

describe('reporting', () => {
  it('reports every problem at once, across sections, with the file first', () => {
    const error = catchConfigError(() =>
      parseConfig(
        `
[server]
http_port = 99999
[upstreams.app]
host = "127.0.0.1"
stratgy = "random"
[upstreams.web]
socket = "/tmp/web.sock"
[[routes]]
path_prefx = "/a"
upstream = "app"
[[routes]]
path_prefix = "/b"
upstream = "wbe"
`,
        'many.toml',
      ),
    );
    assert.deepEqual(error.issues.map((issue) => issue.path).sort(), ['routes[0].path_prefx', 'routes[1].upstream', 'server.http_port', 'upstreams.app.stratgy'].sort());
    const lines = error.message.split('\n');
    assert.equal(lines[0], 'invalid configuration in many.toml (4 problems):');
    assert.equal(lines.length, 5);
    assert.match(error.issues.find((issue) => issue.path === 'routes[1].upstream')!.message, /did you mean "web"\?/);
  });

  it('a route with another problem still has its upstream checked, once', () => {
    const error = catchConfigError(() => parseConfig(`${app}[[routes]]\nupstream = "apq"\npath_prefx = "/"\n[[routes]]\nupstream = ""\nhost = "a"\n`, 'r.toml'));
    assert.deepEqual(error.issues.map((issue) => issue.path).sort(), ['routes[0].path_prefx', 'routes[0].upstream', 'routes[1].upstream']);
    assert.match(error.issues.find((issue) => issue.path === 'routes[0].upstream')!.message, /did you mean "app"/);
  });

  it('a typo inside an upstream does not also flag the routes that use it', () => {
    const error = catchConfigError(() => parseConfig(`${'[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\nretires = 2\n'}[[routes]]\nupstream = "app"\n`, 'x.toml'));
    assert.deepEqual(error.issues.map((issue) => issue.path), ['upstreams.app.retires']);
  });

  it('TOML syntax errors give line and column', () => {
    const error = catchConfigError(() => parseConfig('[server]\nhttp_port = = 8080\n', 'syntax.toml'));
    assert.equal(error.issues.length, 1);
    assert.match(error.issues[0]!.message, /^TOML syntax error at line 2, column \d+: .*near `http_port = = 8080`/);
    assert.match(error.message, /^invalid configuration in syntax\.toml/);
  });

  it('duplicate upstream tables are a syntax error with a position', () => {
    const error = catchConfigError(() => parseConfig(`${validBase}[upstreams.app]\nhost = "127.0.0.2"\n`, 'dup.toml'));
    assert.match(error.issues[0]!.message, /TOML syntax error at line 9, column \d+/);
  });

  it('ConfigError carries source and issues and is an Error', () => {
    const error = catchConfigError(() => parseConfig('x = 1\n', 'top.toml'));
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.source, 'top.toml');
    assert.ok(Object.isFrozen(error.issues));
  });
});

describe('did-you-mean', () => {
  const cases: [word: string, candidates: string[], expected: string | undefined][] = [
    ['path_prefx', ['path_prefix', 'path_exact', 'path_regex'], 'path_prefix'],
    ['stratgy', ['strategy', 'health'], 'strategy'],
    ['wbe', ['web', 'api'], 'web'],
    ['HOST', ['host', 'port'], 'host'],
    ['billing', ['app', 'web'], undefined],
    ['a', ['b'], 'b'],
    ['ab', ['xy'], undefined],
  ];
  for (const [word, candidates, expected] of cases) {
    it(`${word} -> ${expected ?? 'nothing'}`, () => {
      assert.equal(closestMatch(word, candidates), expected);
    });
  }

  it('edit distance counts a swap as one edit', () => {
    assert.equal(editDistance('wbe', 'web'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });
});
