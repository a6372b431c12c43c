/**
 * `warpdrive routes` output (src/cli/routes.ts), from real TOML through the real
 * config loader.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { explainMatch, formatRoutesTable, parseExplainArgument, parseHeaderArgument, parseRequestTarget, RoutesArgumentError, runRoutesCommand } from '../../src/cli/routes.js';
import { parseConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/upstream.js';

const toml = `
[upstreams.rails]
host = "127.0.0.1"
port = 3000

[upstreams.cable]
host = "127.0.0.1"
port = 3001

[upstreams.sidekiq]
host = "127.0.0.1"
port = 7080

[middleware]
admin_token = "secret"

[[routes]]
host = "example.com"
path_prefix = "/cable"
upstream = "cable"
description = "ActionCable"

[[routes]]
host = "example.com"
path_prefix = "/sidekiq"
upstream = "sidekiq"
strip_prefix = true
require_auth = true

[[routes]]
path_regex = "^/users/[0-9]+/posts"
methods = ["GET"]
upstream = "rails"

[[routes]]
host = "*.example.com"
header = { name = "X-API-Version", value = "v2" }
upstream = "rails"

[[routes]]
path_exact = "/health"
upstream = "rails"
`;

const routes = parseConfig(toml, 'test.toml').routes;

describe('formatRoutesTable', () => {
  it('lists every route in match order with its conditions, upstream and options', () => {
    const lines = formatRoutesTable(routes).split('\n');
    assert.match(lines[0]!, /^#\s+host\s+conditions\s+upstream\s+options\s+description$/);
    assert.match(lines[1]!, /^1\s+example\.com\s+path under \/cable\s+cable\s+ActionCable$/);
    assert.match(lines[2]!, /^2\s+example\.com\s+path under \/sidekiq\s+sidekiq\s+strip_prefix, require_auth$/);
    assert.match(lines[3]!, /^3\s+\*any\*\s+path ~ \/\^\/users\/\[0-9\]\+\/posts\/, method GET\s+rails$/);
    assert.match(lines[4]!, /^4\s+\*\.example\.com\s+header x-api-version: v2\s+rails$/);
    assert.match(formatRoutesTable(routes), /5 routes, first match wins; compiled into 1 exact host, 1 wildcard host and 2 host-less routes\./);
  });

  it('says what an empty table means', () => {
    assert.match(formatRoutesTable([]), /No routes: every request gets 404/);
  });
});

describe('explainMatch', () => {
  it('shows the normalised path and why earlier routes did not match', () => {
    const text = explainMatch(routes, 'GET', 'https://Example.com:8443/public/../sidekiq/jobs?page=2', {});
    assert.match(text, /Request: GET host "example\.com" path "\/public\/\.\.\/sidekiq\/jobs"/);
    assert.match(text, /Normalised path: "\/sidekiq\/jobs"/);
    assert.match(text, /#1 +no +path "\/sidekiq\/jobs" is not under prefix "\/cable"/);
    assert.match(text, /#2 +MATCH +host example\.com, path under \/sidekiq -> upstream "sidekiq"/);
    assert.match(text, /Route #2 matches: upstream "sidekiq"\. \(3 later routes not consulted\.\)/);
    assert.doesNotMatch(text, /WARNING/);
  });

  it('names the failed condition: host, segment boundary, method, header', () => {
    const text = explainMatch(routes, 'post', 'http://example.com/cablex', { 'X-API-Version': 'v1' });
    assert.match(text, /#1 +no +path "\/cablex" continues prefix "\/cable" without a "\/"/);
    assert.match(text, /#3 +no +path "\/cablex" does not match regex/);
    assert.match(text, /#4 +no +host "example\.com" does not match "\*\.example\.com"/);
    const wild = explainMatch(routes, 'POST', 'http://www.example.com/users/1/posts', { 'X-API-Version': 'v1' });
    assert.match(wild, /#1 +no +host "www\.example\.com" does not match "example\.com"/);
    assert.match(wild, /#3 +no +method POST is not one of GET/);
    assert.match(wild, /#4 +no +header x-api-version is "v1", not "v2"/);
    assert.match(explainMatch(routes, 'POST', 'http://www.example.com/x', {}), /#4 +no +header x-api-version is absent \(wanted "v2"\)/);
  });

  it('takes the host from the Host header for an origin-form path', () => {
    const text = explainMatch(routes, 'GET', '/x', { Host: 'a.example.com', 'x-api-version': 'v2' });
    assert.match(text, /Route #4 matches: upstream "rails"/);
  });

  it('reports 404 when nothing matches and 400 for a path that cannot be normalised', () => {
    assert.match(explainMatch(routes, 'GET', 'http://other.org/nothing', {}), /No route matches: warpdrive answers 404\./);
    assert.match(explainMatch(routes, 'GET', 'http://other.org/a%00b', {}), /cannot be normalised safely.*400/);
    assert.match(explainMatch(routes, 'GET', 'http://other.org/a%zz', {}), /400/);
    assert.match(explainMatch(routes, 'GET', '/x', { Host: 'a b' }), /The host "a b" holds characters no host may contain: warpdrive answers 400/);
  });

  it('rejects what is not a URL with a fix', () => {
    assert.throws(() => explainMatch(routes, 'GET', 'example.com/x', {}), (error: unknown) => error instanceof RoutesArgumentError && /fix: give an absolute URL/.test(error.message));
  });
});

describe('routes command arguments', () => {
  it('reads the request target like the proxy: lowercase host, no port, no query', () => {
    assert.deepEqual(parseRequestTarget('https://user@API.Example.com:443/a/b?c#d', {}), { rawHost: 'API.Example.com:443', rawPath: '/a/b' });
    assert.deepEqual(parseRequestTarget('http://[::1]:8080', {}), { rawHost: '[::1]:8080', rawPath: '/' });
    assert.deepEqual(parseRequestTarget('/p?q', { host: 'X.org:81' }), { rawHost: 'X.org:81', rawPath: '/p' });
    assert.match(explainMatch(routes, 'GET', 'https://API.Example.com.:443/x', {}), /Request: GET host "api\.example\.com" path "\/x"/);
  });

  it('parses --explain and -H, and rejects malformed ones with an example', () => {
    assert.deepEqual(parseExplainArgument('GET https://example.com/cable'), { method: 'GET', url: 'https://example.com/cable' });
    assert.deepEqual(parseExplainArgument('https://example.com/'), { method: 'GET', url: 'https://example.com/' });
    assert.throws(() => parseExplainArgument('GET a b'), /--explain expects "METHOD URL"/);
    assert.deepEqual(parseHeaderArgument('X-API-Version:  v2 '), ['X-API-Version', 'v2']);
    assert.deepEqual(parseHeaderArgument('X-Time: 12:30'), ['X-Time', '12:30']);
    assert.throws(() => parseHeaderArgument('novalue'), /-H expects "Name: value"/);
  });

  it('runs end to end from a config file', () => {
    const file = path.join(tempDir('wd-routes-'), 'warpdrive.toml');
    writeFileSync(file, toml);
    assert.match(runRoutesCommand({ configFile: file, explain: undefined, headers: [] }), /^#\s+host/);
    const text = runRoutesCommand({ configFile: file, explain: 'GET https://shop.example.com/', headers: ['X-API-Version: v2'] });
    assert.match(text, /Route #4 matches/);
  });
});
