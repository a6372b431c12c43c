/**
 * The install path a user takes without a clone to work in: `npm pack`, then
 * `npm install -g` of the tarball into a prefix, then the `warpdrive` command from
 * that prefix's bin/. The tarball is packed from a clean copy of the working tree
 * (as a fresh clone would be), so the `prepare` build and the `files` list are what
 * is tested, not whatever an earlier build left in dist/.
 *
 * npm resolves the dependencies again for a global install (a tarball carries no
 * lockfile): `--prefer-offline` takes them from npm's cache, which `npm install`
 * in this repository filled, and asks the registry only for what is missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { echoHandler, startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { cleanEnv, repoRoot, writeConfig } from '../helpers/warpdrive.js';

/** Packing builds src with tsc, installing copies the dependencies (uWS alone is ~110 MB): minutes, not seconds, on a busy machine. */
const slow = { timeout: 240_000 };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * npm and the installed command run without the npm_* variables of the `npm test`
 * that may be running this file: they would point the inner npm at this project's
 * settings (npm_config_prefix and the like).
 */
function outsideEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.toLowerCase().startsWith('npm_')) env[name] = value;
  return { ...env, ...cleanEnv, ...extra };
}

function run(command: string, args: string[], cwd: string, env = outsideEnv()): Promise<Run> {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What a clone holds that the build needs; build output, results and VCS data stay behind. */
const notInAClone = new Set(['node_modules', 'dist', '.git', '.build', 'results']);

describe('npm pack, then npm install -g --prefix: the warpdrive command works', () => {
  const root = repoRoot();
  const work = tempDir('wd-pack-');
  const clone = path.join(work, 'clone');
  const prefix = path.join(work, 'prefix');
  const warpdrive = path.join(prefix, 'bin', 'warpdrive');
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  let packed: { filename: string; unpackedSize: number; files: { path: string }[] };
  let upstream: TestUpstream;

  before(async () => {
    cpSync(root, clone, { recursive: true, filter: (source) => !notInAClone.has(path.basename(source)) });
    // The copy has no dist/ (what `prepare` must build) but needs the dev dependencies
    // (tsc) that `npm install` puts in a clone: share this checkout's node_modules.
    symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
    upstream = await startUpstream(echoHandler('installed'));
  });
  after(async () => {
    await upstream?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('npm pack builds the program and ships only what it needs', slow, async () => {
    const pack = await run('npm', ['pack', '--json', '--pack-destination', work], clone);
    assert.equal(pack.code, 0, pack.stderr);
    // npm prints the prepare script's output before the JSON.
    packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed)[])[0]!;
    const files = packed.files.map((file) => file.path);
    for (const needed of ['bin/warpdrive.js', 'dist/src/cli/main.js', 'dist/src/supervisor/worker.js', 'dist/src/threads/proxy-worker.js', 'package.json', 'packaging/warpdrive.service']) {
      assert.ok(files.includes(needed), `the package holds ${needed}`);
    }
    const unwanted = files.filter((file) => /^(test|bench|docs|examples|src|native-notes)\/|^dist\/(test|bench)\/|\.map$|\.ts$|^\./.test(file));
    assert.deepEqual(unwanted, [], 'no tests, benchmarks, sources, source maps or dotfiles');
    assert.ok(packed.unpackedSize < 1_000_000, `unpacked size ${packed.unpackedSize} bytes`);
  });

  test('npm install -g --prefix installs a warpdrive command: --version, check, and a proxy that answers', slow, async () => {
    assert.ok(packed !== undefined, 'packed by the previous test');
    const install = await run('npm', ['install', '-g', '--prefix', prefix, path.join(work, packed.filename), '--prefer-offline', '--no-audit', '--no-fund'], work);
    assert.equal(install.code, 0, install.stderr);

    const shown = await run(warpdrive, ['--version'], work);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^warpdrive/${version.replaceAll('.', '\\.')} `));

    const config = writeConfig(`[server]\nhttp_port = 0\nbind_address = "127.0.0.1"\n[upstreams.app]\n${upstream.toml}\n[[routes]]\nupstream = "app"\n`);
    const check = await run(warpdrive, ['check', '--config', config], work);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^upstreams \(1\):/m);

    // The installed copy loads its own uWebSockets.js binary and proxies.
    const child = spawn(warpdrive, ['--config', config], { cwd: work, env: outsideEnv({ WARPDRIVE_LOG_LEVEL: 'info' }), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let output = '';
        const onData = (chunk: Buffer): void => {
          output += chunk.toString();
          const listening = /listening on http:\/\/\S+:(\d+)/.exec(output);
          if (listening) resolve(Number(listening[1]));
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => reject(new Error(`the installed warpdrive exited with ${code}:\n${output}`)));
      });
      const res = await request(`http://127.0.0.1:${port}/from-the-tarball`);
      assert.equal(res.statusCode, 200);
      assert.equal(((await res.body.json()) as { name: string; url: string }).url, '/from-the-tarball');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
