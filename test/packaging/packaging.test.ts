/**
 * packaging/: the systemd unit and the logrotate snippet, checked by the tools
 * that will read them (systemd-analyze, logrotate, from Debian's systemd and
 * logrotate packages), and the unit's promise that warpdrive and its processes
 * run as a non-root user on a port below 1024 with the unit's capability and
 * NoNewPrivileges, reproduced with setpriv (util-linux).
 *
 * systemd itself cannot run here (it is not PID 1 in this container), so
 * `systemctl reload/stop` are not exercised end to end; the signals they send
 * (SIGHUP, SIGTERM to the main process) are tested with the real CLI elsewhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { parseConfig } from '../../src/config/index.js';
import { tempDir } from '../helpers/upstream.js';
import { cleanEnv, repoRoot, warpdriveBin } from '../helpers/warpdrive.js';

const bounded = { timeout: 30_000 };
const root = repoRoot();
const unitFile = path.join(root, 'packaging', 'warpdrive.service');
const logrotateFile = path.join(root, 'packaging', 'logrotate', 'warpdrive');

/** Whether `command` can be run (found on PATH or in /usr/sbin). */
function available(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command} || test -x /usr/sbin/${command}`]).status === 0;
}

/** `Key=value` lines of the unit, by key (a key may repeat, e.g. ExecReload). */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) settings.set(match[1]!, [...(settings.get(match[1]!) ?? []), match[2]!]);
  }
  return settings;
}

describe('packaging/warpdrive.service', () => {
  const text = readFileSync(unitFile, 'utf8');
  const settings = unitSettings(text);
  const one = (key: string): string | undefined => settings.get(key)?.[0];
  /**
   * systemd-analyze verify on a copy whose ExecStart program exists (verify checks it):
   * this checkout's bin/warpdrive.js. SYSTEMD_LOG_TARGET=console puts its findings on
   * stderr; by default they go to the journal or the console, not to a pipe.
   */
  const verify = (unitText: string): { status: number | null; output: string } => {
    const copy = path.join(tempDir('wd-unit-'), 'warpdrive.service');
    writeFileSync(copy, unitText.replaceAll('/usr/local/bin/warpdrive', path.join(root, 'bin', 'warpdrive.js')));
    const run = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_TARGET: 'console' } });
    return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
  };

  const noAnalyze = available('systemd-analyze') ? false : 'systemd-analyze is missing: apt-get install systemd';

  test('systemd-analyze verify accepts it without a warning', { ...bounded, skip: noAnalyze }, () => {
    const result = verify(text);
    assert.equal(result.status, 0, result.output);
    // Unknown keys and unparsable values are only warnings (exit 0): there must be none.
    assert.equal(result.output, '');
  });

  test('systemd-analyze verify does report a misspelt key and a bad value (so the check above can fail)', { ...bounded, skip: noAnalyze }, () => {
    const result = verify(text.replace(/^KillMode=mixed$/m, 'KillMod=mixed').replace(/^Restart=on-failure$/m, 'Restart=sometimes'));
    assert.match(result.output, /Unknown key 'KillMod'/);
    assert.match(result.output, /sometimes/);
  });

  test('reload validates, then sends SIGHUP to warpdrive', () => {
    const reload = settings.get('ExecReload') ?? [];
    assert.deepEqual(reload, ['/usr/local/bin/warpdrive check --config /srv/app/warpdrive.toml', '/bin/kill -HUP $MAINPID']);
    assert.match(one('ExecStart') ?? '', / --config \/srv\/app\/warpdrive\.toml$/, 'check reads the file the service runs');
  });

  test('stop: SIGTERM to warpdrive alone, and time for the drain plus the processes\' stop', () => {
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.equal(one('KillMode'), 'mixed', 'the app processes are stopped by warpdrive, in order, after the drain');
    // The defaults, from the config loader itself: shutdown_timeout_secs and process.stop_timeout_secs.
    const plan = parseConfig('[upstreams.app]\nsocket = "/run/app.sock"\nprocess.command = "app"\n[[routes]]\nupstream = "app"\n', '/srv/app/warpdrive.toml');
    const drainSecs = plan.server.shutdownTimeoutMs / 1000;
    const processStopSecs = plan.upstreams.get('app')!.process!.stopTimeoutMs / 1000;
    const timeoutStopSecs = Number(one('TimeoutStopSec'));
    assert.ok(timeoutStopSecs > drainSecs + processStopSecs, `TimeoutStopSec=${timeoutStopSecs} covers ${drainSecs} s of drain and ${processStopSecs} s of process stop`);
    assert.ok(timeoutStopSecs <= drainSecs + processStopSecs + 15, 'without waiting much longer than warpdrive itself would');
  });

  test('restarts on failure, but not on a configuration error (exit 2)', () => {
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('RestartPreventExitStatus'), '2');
  });

  test('binds 80/443 as a non-root user, hardened without what breaks Node or supervision', () => {
    assert.notEqual(one('User'), 'root');
    assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('KillMode'), 'mixed');
    // V8 needs writable+executable memory; /proc/stat and /proc/uptime feed the process stats.
    for (const breaking of ['MemoryDenyWriteExecute', 'ProcSubset']) assert.equal(settings.has(breaking), false, `${breaking} is not set`);
  });
});

describe('packaging/logrotate/warpdrive', () => {
  const skip = available('logrotate') ? false : 'logrotate is missing: apt-get install logrotate';

  test('logrotate reads it without an error', { ...bounded, skip }, () => {
    const state = path.join(tempDir('wd-logrotate-'), 'state');
    const run = spawnSync('logrotate', ['--debug', '--state', state, logrotateFile], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(!/error:/.test(run.stderr), run.stderr);
    assert.match(run.stderr, /rotating pattern: \/var\/log\/warpdrive\/\*\.log/);
  });

  test('postrotate signals warpdrive\'s main process only, with SIGUSR1 (reopen)', () => {
    const text = readFileSync(logrotateFile, 'utf8');
    assert.match(text, /postrotate\n\s+systemctl kill --kill-whom=main --signal=SIGUSR1 warpdrive\.service/);
    assert.match(text, /sharedscripts/, 'one signal per rotation, not one per file');
  });
});

/**
 * The unit's User= + AmbientCapabilities= + NoNewPrivileges=, as setpriv applies
 * them: drop to `nobody`, keep only CAP_NET_BIND_SERVICE as an ambient capability.
 */
const asServiceUser = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--no-new-privs', '--inh-caps=-all,+net_bind_service', '--ambient-caps=+net_bind_service', '--bounding-set=-all,+net_bind_service'];
const asPlainUser = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all'];

/** A port below 1024 that is free on 127.0.0.1 right now (bound and released as root). */
async function freeLowPort(): Promise<number> {
  const start = 600 + Math.floor(Math.random() * 300);
  for (let port = start; port < start + 100; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below 1024 on 127.0.0.1');
}

describe('as the unit runs it: a non-root user with CAP_NET_BIND_SERVICE on a port below 1024', () => {
  const skip =
    process.getuid?.() !== 0 ? 'needs root, to switch to the nobody user with setpriv' : !available('setpriv') ? 'setpriv is missing: apt-get install util-linux' : false;
  let dir: string;
  let config: string;
  let port: number;

  before(async () => {
    if (skip !== false) return;
    // Readable and writable by nobody: the config, the child's script and its socket.
    dir = tempDir('wd-caps-');
    chmodSync(dir, 0o777);
    copyFileSync(path.join(root, 'examples', 'demo-app.mjs'), path.join(dir, 'app.mjs'));
    chmodSync(path.join(dir, 'app.mjs'), 0o644);
    port = await freeLowPort();
    config = path.join(dir, 'warpdrive.toml');
    writeFileSync(
      config,
      `[server]\nhttp_port = ${port}\nbind_address = "127.0.0.1"\n` +
        `[upstreams.app]\nsocket = "app.sock"\nprocess.command = ${JSON.stringify(process.execPath)}\nprocess.args = ["app.mjs"]\nprocess.env = { APP_NAME = "as-nobody", LISTEN = "app.sock" }\n` +
        `[[routes]]\nupstream = "app"\n`,
    );
    chmodSync(config, 0o644);
  });
  const children: ReturnType<typeof spawn>[] = [];
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  test('without the capability: exit 1, and the message names CAP_NET_BIND_SERVICE and the unit', { ...bounded, skip }, () => {
    const run = spawnSync('setpriv', [...asPlainUser, process.execPath, warpdriveBin, '--config', config], { encoding: 'utf8', env: { ...process.env, ...cleanEnv }, timeout: 20_000 });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability`));
    assert.match(run.stderr, /AmbientCapabilities=CAP_NET_BIND_SERVICE \(packaging\/warpdrive\.service\)/);
  });

  test('with it (and NoNewPrivileges): listens, supervises its process as nobody, proxies, stops with exit 0', { ...bounded, skip }, async () => {
    const child = spawn('setpriv', [...asServiceUser, process.execPath, warpdriveBin, '--config', config], {
      env: { ...process.env, ...cleanEnv, WARPDRIVE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes(`listening on http://127.0.0.1:${port}`)) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`exited with ${code}:\n${output}`)));
    });
    const res = await request(`http://127.0.0.1:${port}/whoami`);
    assert.equal(res.statusCode, 200);
    const body = (await res.body.json()) as { app: string; url: string };
    assert.deepEqual([body.app, body.url], ['as-nobody', '/whoami']);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  });
});
