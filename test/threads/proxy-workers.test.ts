/**
 * ProxyWorkers on their own (no proxy on this thread): real worker threads on
 * a reserved port, a real upstream, undici as the client.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { request } from 'undici';
import { parseConfig } from '../../src/config/index.js';
import { reservePort } from '../../src/ingress/server.js';
import { ProxyWorkers, ProxyWorkerStartError } from '../../src/threads/proxy-workers.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function planFor(upstream: TestUpstream, port: number) {
  return parseConfig(
    `[server]\nbind_address = "127.0.0.1"\nhttp_port = ${port}\nworker_threads = 2\n` +
      `[upstreams.app]\nhost = "127.0.0.1"\nport = ${upstream.port}\n[[routes]]\npath_prefix = "/"\nupstream = "app"\n`,
    'threads.toml',
  );
}

/** The status of a GET on a fresh connection, or the error code when nothing answers. */
async function probe(port: number): Promise<number | string> {
  try {
    const res = await request(`http://127.0.0.1:${port}/`, { reset: true });
    await res.body.text();
    return res.statusCode;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

describe('ProxyWorkers', { timeout: 30_000 }, () => {
  it('a proxy worker that dies is started again and serves again', async () => {
    const upstream = await startUpstream((_req, res) => res.end('ok'));
    cleanups.push(() => upstream.close());
    const port = await reservePort('127.0.0.1', 0);
    const workers = await ProxyWorkers.start(planFor(upstream, port), port, undefined, undefined);
    cleanups.push(() => workers.stop(Date.now()));
    assert.equal(await probe(port), 200, 'the worker proxies (nothing else listens on the port)');

    await workers.crashForTest(1);
    assert.equal(await probe(port), 'ECONNREFUSED', 'gone with its thread');
    const deadline = Date.now() + 10_000;
    let status = await probe(port);
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await probe(port);
    }
    assert.equal(status, 200, 'serving again after the restart');

    await workers.stop(Date.now() + 1_000);
    assert.equal(await probe(port), 'ECONNREFUSED', 'stop() ends the workers for good');
  });

  it('start() rejects, naming the thread and the cause, when a worker cannot listen', async () => {
    const upstream = await startUpstream((_req, res) => res.end('ok'));
    cleanups.push(() => upstream.close());
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as net.AddressInfo).port;
    await assert.rejects(ProxyWorkers.start(planFor(upstream, port), port, undefined, undefined), (error: Error) => {
      assert.ok(error instanceof ProxyWorkerStartError);
      assert.match(error.message, new RegExp(`proxy thread 1 could not start: cannot listen on 127\\.0\\.0\\.1:${port}`));
      return true;
    });
  });
});
