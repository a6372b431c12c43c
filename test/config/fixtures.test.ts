/**
 * The TOML fixtures other tests (the CLI's) rely on: each broken-*.toml fails
 * with the issues listed here, and the good ones load.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { catchConfigError, fixture, fixtureDir } from './fixtures.js';

const broken: Record<string, { path: string; hint: string }[]> = {
  'broken-syntax.toml': [{ path: '', hint: 'TOML syntax error at line 6, column' }],
  'broken-unknown-upstream.toml': [{ path: 'routes[1].upstream', hint: 'did you mean "api"?' }],
  'broken-misspelt-key.toml': [
    { path: 'upstreams.api.stratgy', hint: 'did you mean "strategy"?' },
    { path: 'routes[0].path_prefx', hint: 'did you mean "path_prefix"?' },
  ],
  'broken-cycle.toml': [{ path: 'upstreams.web.process.depends_on', hint: 'process dependency cycle: web -> worker -> web' }],
  'broken-require-auth.toml': [{ path: 'routes[0].require_auth', hint: 'WARPDRIVE_ADMIN_TOKEN' }],
  'broken-many.toml': [
    { path: 'server.http_port', hint: 'found 70000' },
    { path: 'upstreams.app.port', hint: 'add port' },
    { path: 'upstreams.files.socket', hint: 'not both' },
    { path: 'routes[0].path_prefix', hint: 'write "/static"' },
    { path: 'routes[1].path_regex', hint: 'Invalid regular expression' },
    { path: 'routes[2].strategy', hint: 'unknown key "strategy"' },
    { path: 'routes[2].upstream', hint: 'unknown upstream "ap" (did you mean "app"?)' },
  ],
};

describe('fixtures', () => {
  it('every broken-*.toml fixture has expectations here', () => {
    const files = readdirSync(fixtureDir).filter((name) => name.startsWith('broken-'));
    assert.deepEqual(files.sort(), Object.keys(broken).sort());
  });

  for (const [file, expected] of Object.entries(broken)) {
    it(`${file} fails with exactly its issues`, () => {
      const error = catchConfigError(() => loadConfig({ configFile: fixture(file), env: {} }));
      assert.equal(error.source, fixture(file));
      assert.deepEqual(error.issues.map((issue) => issue.path).sort(), expected.map((issue) => issue.path).sort());
      for (const { path, hint } of expected) {
        const issue = error.issues.find((candidate) => candidate.path === path)!;
        assert.ok(issue.message.includes(hint), `"${hint}" missing from: ${issue.message}`);
      }
    });
  }

  it('broken-require-auth.toml loads once WARPDRIVE_ADMIN_TOKEN is set', () => {
    const plan = loadConfig({ configFile: fixture('broken-require-auth.toml'), env: { WARPDRIVE_ADMIN_TOKEN: 'token' } });
    assert.equal(plan.routes[0]!.requireAuth, true);
  });

  it('minimal.toml loads on any free port', () => {
    const plan = loadConfig({ configFile: fixture('minimal.toml'), env: {} });
    assert.equal(plan.server.httpPort, 0);
    assert.equal(plan.server.bindAddress, '127.0.0.1');
  });
});
