/**
 * The access log (`middleware.log_requests`) through the real CLI: its line
 * format, and that a stdout nobody drains never stalls the proxy.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'undici';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { loggingConfig, startWarpdrive, warpdriveBin } from '../helpers/warpdrive.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

function config(upstream: TestUpstream, threads = 1): string {
  return loggingConfig(threads, upstream.toml);
}

/** warpdrive with stdout a pipe that this test does not read until asked; stderr is read for the port. */
async function startWithStuckStdout(configFile: string): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [warpdriveBin, '--config', configFile], {
    env: { ...process.env, WARPDRIVE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  // Not reading: once Node's own buffer and the kernel's pipe buffer (64 KiB) are full,
  // every write warpdrive makes to stdout would block.
  child.stdout!.pause();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on http:\/\/\S+:(\d+)/.exec(stderr);
      if (m) {
        clearInterval(timer);
        resolve(Number(m[1]));
      }
    }, 10);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`warpdrive exited with ${code}: ${stderr}`));
    });
  });
  return { child, port, stderr: () => stderr };
}

describe('access log', () => {
  test('one line per request, nginx\'s combined format then warpdrive\'s fields (the default log_format)', { timeout: 20_000 }, async () => {
    const upstream = await startUpstream((_req, res) => res.end('twelve bytes'));
    cleanups.push(() => upstream.close());
    const wd = await startWarpdrive(config(upstream));
    cleanups.push(() => wd.stop());
    const res = await request(`${wd.url}/orders?page=2`, { headers: { 'user-agent': 'shop-test/1.0', referer: 'https://shop.example/cart' } });
    await res.body.text();
    const deadline = Date.now() + 5_000;
    while (!wd.output().includes('"GET /orders?page=2 HTTP/1.1"') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(
      wd.output(),
      /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/orders\?page=2 HTTP\/1\.1" 200 12 "https:\/\/shop\.example\/cart" "shop-test\/1\.0" host=127\.0\.0\.1 rt=\d+\.\d{3} urt=\d+\.\d{3} route=1 rid=[0-9a-f]{12}-1 upstream=app instance=app#0 thread=0$/m,
    );
  });

  for (const threads of [1, 2]) {
    test(`a stdout nobody reads never stalls requests (${threads} thread${threads > 1 ? 's' : ''}); lines that do not fit are dropped and counted`, { timeout: 30_000 }, async () => {
      const upstream = await startUpstream((_req, res) => res.end('ok'));
      cleanups.push(() => upstream.close());
      const wd = await startWithStuckStdout(config(upstream, threads));
      // 15,000 lines of ~270 bytes, about 4 MB: more than the pipe (64 KiB) and each thread's
      // bounded queue (1 MiB) hold together, so some lines must be dropped, never waited for.
      const agent = new Agent({ connections: 20 });
      cleanups.push(() => agent.close());
      const path = `/${'x'.repeat(200)}`;
      for (let batch = 0; batch < 150; batch++) {
        const statuses = await Promise.all(
          Array.from({ length: 100 }, async () => {
            const res = await request(`http://127.0.0.1:${wd.port}${path}`, { dispatcher: agent, headersTimeout: 5_000 });
            await res.body.text();
            return res.statusCode;
          }),
        );
        assert.deepEqual(new Set(statuses), new Set([200]));
      }
      // Now drain stdout: what was kept arrives, followed by a count of what was not.
      let stdout = '';
      wd.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      wd.child.stdout!.resume();
      const deadline = Date.now() + 10_000;
      while (!/access-log lines dropped/.test(wd.stderr() + stdout) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(wd.stderr() + stdout, /\d+ access-log lines dropped: stdout could not keep up/);
      assert.ok(stdout.includes(`"GET ${path} HTTP/1.1" 200`), 'the lines that fitted were written');
    });
  }
});
