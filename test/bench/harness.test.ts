/**
 * The harness end to end, as `.ci/run` uses it: the compiled bench/run.js in a
 * child process, a real upstream, real proxies, real wrk. Nothing about speed
 * is asserted; only that a working setup exits 0 with a full report and that a
 * broken one exits non-zero saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../../bench/lib/tools.js';
import type { RunResult } from '../../bench/lib/results.js';

const runJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/run.js');

function bench(args: string[], timeoutMs = 90_000) {
  // Bounded: a smoke run with 1 s warm-up and 1 s measured per proxy takes a few seconds.
  return spawnSync(process.execPath, [runJs, ...args], { encoding: 'utf8', timeout: timeoutMs });
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

const httpsMissing = ['wrk', 'nginx', 'haproxy', 'openssl', 'cc'].filter((t) => !findExecutable(t));
test(
  'the HTTPS scenarios end to end: warpdrive, nginx and HAProxy serve the run\'s certificate alike, full handshakes checked, the plain-HTTP peers sit out',
  { skip: httpsMissing.length ? `${httpsMissing.join(', ')} not installed` : false },
  () => {
    const out = mkdtempSync(path.join(tmpdir(), 'wd-bench-out-'));
    const args = ['--scenario', 'https-small-get,https-new-conn', '--proxies', 'warpdrive,nginx,haproxy,node,direct', '--duration', '1', '--warmup', '1', '--rounds', '1', '--out', out];
    // 2 scenarios x 3 proxies x 2 s, starts and checks: well under a minute even on a busy machine.
    const r = bench(args, 180_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /full TLS handshakes: wrk with bench\/native\/wrk-no-resume\.c made [\d,]+ handshakes and resumed 0/);
    const json = readdirSync(out).find((f) => f.endsWith('.json'))!;
    const result = JSON.parse(readFileSync(path.join(out, json), 'utf8')) as RunResult;
    assert.deepEqual(result.scenarios.map((s) => s.name), ['https-small-get', 'https-new-conn']);
    for (const scenario of result.scenarios) {
      assert.deepEqual(scenario.measurements.map((m) => m.proxy), ['warpdrive', 'nginx', 'haproxy'], scenario.name);
      for (const m of scenario.measurements) {
        assert.ok(m.requests > 0, `${scenario.name}/${m.proxy} served requests`);
        assert.equal(m.socketErrors + m.statusErrors, 0, `${scenario.name}/${m.proxy} failed none`);
      }
      assert.deepEqual(scenario.skipped.map((k) => k.proxy), ['node', 'direct']);
      assert.ok(scenario.skipped.every((k) => /plain HTTP only/.test(k.reason)));
      // The same crypto everywhere, checked before measuring.
      const negotiated = scenario.tls!.negotiated;
      assert.deepEqual(negotiated.map((n) => n.proxy), ['warpdrive', 'nginx', 'haproxy']);
      assert.equal(new Set(negotiated.map((n) => `${n.protocol} ${n.cipher} ${n.group}`)).size, 1);
      assert.equal(negotiated[0]!.protocol, 'TLSv1.3');
      assert.ok(negotiated.every((n) => n.tickets > 0), 'every proxy issues session tickets, as uWS does');
    }
    const [keepAlive, newConn] = result.scenarios;
    assert.equal(keepAlive!.tls!.resumptionCheck, undefined);
    assert.equal(newConn!.tls!.resumptionCheck!.resumed, 0);
    assert.ok(newConn!.tls!.resumptionCheck!.handshakes >= 20);
    assert.match(newConn!.loadCommand, /^LD_PRELOAD=wrk-no-resume\.so wrk .*-H 'Connection: close' https:\/\/localhost:PORT\//);
    const stamp = json.replace(/\.json$/, '');
    assert.match(readFileSync(path.join(out, stamp, 'configs', 'https-new-conn', 'haproxy', 'haproxy.cfg'), 'utf8'), /bind 127\.0\.0\.1:\d+ ssl crt \S+bench-bundle\.pem/);
    assert.match(readFileSync(path.join(out, `${stamp}.md`), 'utf8'), /Full handshakes: wrk with `wrk-no-resume\.so` made [\d,]+ handshakes against a server that resumes any session it is offered, and resumed 0/);
    // The certificate and key live in the run's temporary directory only.
    assert.equal(execFileSync('find', [out, '-name', '*.pem'], { encoding: 'utf8' }), '');
  },
);
