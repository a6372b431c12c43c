/**
 * The harness end to end, as `.ci/run` uses it: the compiled bench/run.js in a
 * child process, a real upstream, real proxies, real wrk. Nothing about speed
 * is asserted; only that a working setup exits 0 with a full report and that a
 * broken one exits non-zero saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../../bench/lib/tools.js';
import type { RunResult } from '../../bench/lib/results.js';

const runJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/run.js');

function bench(args: string[]) {
  // Bounded: a smoke run with 1 s warm-up and 1 s measured per proxy takes a few seconds.
  return spawnSync(process.execPath, [runJs, ...args], { encoding: 'utf8', timeout: 90_000 });
}

const missing = ['wrk', 'nginx'].filter((t) => !findExecutable(t));
test('a smoke run on nginx and the bare upstream exits 0 and writes JSON, Markdown and two SVG charts', { skip: missing.length ? `${missing.join(', ')} not installed` : false }, () => {
  const out = mkdtempSync(path.join(tmpdir(), 'wd-bench-out-'));
  const r = bench(['--smoke', '--proxies', 'nginx,direct', '--duration', '1', '--warmup', '1', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /smoke OK: nginx, direct/);
  const json = readdirSync(out).find((f) => f.endsWith('.json'))!;
  const result = JSON.parse(readFileSync(path.join(out, json), 'utf8')) as RunResult;
  assert.equal(result.smoke, true);
  const [scenario] = result.scenarios;
  assert.equal(scenario!.name, 'small-get');
  assert.deepEqual(scenario!.measurements.map((m) => m.proxy), ['nginx', 'direct']);
  for (const m of scenario!.measurements) {
    assert.ok(m.requests > 0);
    assert.equal(m.socketErrors + m.statusErrors, 0);
  }
  const nginx = scenario!.summaries.find((s) => s.proxy === 'nginx')!;
  assert.equal(nginx.throughputVsNginx, 1);
  assert.ok(nginx.peakRssBytes.median > 0, 'nginx memory was sampled');
  const stamp = json.replace(/\.json$/, '');
  assert.ok(existsSync(path.join(out, `${stamp}.md`)));
  assert.ok(readFileSync(path.join(out, stamp, 'throughput.svg'), 'utf8').includes('<svg'));
  assert.ok(existsSync(path.join(out, stamp, 'p99.svg')));
  assert.ok(existsSync(path.join(out, stamp, 'configs', 'small-get', 'nginx', 'nginx.conf')));
  assert.ok(!existsSync(path.join(out, 'latest.md')), 'a smoke run does not replace the latest report');
});

test('a missing warpdrive build fails the smoke run with the command that fixes it', { skip: findExecutable('wrk') ? false : 'wrk not installed (the bench reports that first)' }, () => {
  const out = mkdtempSync(path.join(tmpdir(), 'wd-bench-out-'));
  const r = bench(['--smoke', '--warpdrive', path.join(out, 'nowhere', 'main.js'), '--out', out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /warpdrive is not built: .*nowhere\/main\.js does not exist\. Run: npm run build/);
});

test('an unknown scenario or option exits 2 with the usage', () => {
  const r = bench(['--scenario', 'nope']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown scenario "nope"/);
  const u = bench(['--bogus']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /Usage: npm run bench/);
});
