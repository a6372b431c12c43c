/**
 * An instance's pinned undici Pool against real servers (keep-alive, connection
 * limit, Unix socket, close), its counters, and how real undici failures are
 * classified into request outcomes.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import path from 'node:path';
import type { Socket } from 'node:net';
import { startUpstream, tempDir, type TestUpstream } from '../helpers/upstream.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { fromUpstreamError } from '../../src/pipeline/errors.js';
import { startBlackhole } from './blackhole.js';
import { addressOf, fakeProcess, idleAddresses, upstreamSpec, type SpecOptions } from './fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A server that answers `ok`, after `delayMs` when asked to, and keeps its sockets for inspection. */
async function server(options: { unix?: boolean; delayMs?: number } = {}): Promise<TestUpstream & { sockets: Socket[] }> {
  const s = await startUpstream((req, res) => {
    const answer = () => res.end(`ok ${req.url}`);
    if (options.delayMs) setTimeout(answer, options.delayMs);
    else answer();
  }, options);
  const sockets: Socket[] = [];
  s.server.on('connection', (socket: Socket) => sockets.push(socket));
  cleanups.push(() => s.close());
  return Object.assign(s, { sockets });
}

function upstreamFor(s: TestUpstream, options: SpecOptions = {}): Upstream {
  const upstream = new Upstream(upstreamSpec([addressOf(s)], options));
  cleanups.push(() => upstream.close());
  return upstream;
}

describe('instance dispatcher', { timeout: 20_000 }, () => {
  it('reuses keep-alive connections for sequential requests', async () => {
    const s = await server();
    const instance = upstreamFor(s).instances[0]!;
    for (let n = 0; n < 50; n++) {
      const res = await instance.dispatcher.request({ method: 'GET', path: `/${n}` });
      assert.equal(await res.body.text(), `ok /${n}`);
    }
    // undici's Pool may open a second connection when request 2 is dispatched before connection 1 has
    // finished bookkeeping request 1 (observed with undici 7.30); after that both are reused, never more.
    assert.ok(s.sockets.length <= 2, `${s.sockets.length} connections for 50 sequential requests`);
  });

  it('opens no more connections than max_connections_per_instance', async () => {
    const s = await server({ delayMs: 20 });
    const instance = upstreamFor(s, { maxConnectionsPerInstance: 3 }).instances[0]!;
    const bodies = await Promise.all(
      Array.from({ length: 30 }, (_, n) => instance.dispatcher.request({ method: 'GET', path: `/${n}` }).then((r) => r.body.text())),
    );
    assert.equal(bodies.length, 30);
    assert.ok(s.sockets.length <= 3, `${s.sockets.length} connections`);
    assert.ok(s.sockets.length >= 2, 'concurrent requests did use several connections');
  });

  it('reaches a Unix-socket instance through its socket', async () => {
    const s = await server({ unix: true });
    const instance = upstreamFor(s).instances[0]!;
    assert.match(instance.address, /^unix:.*upstream\.sock$/);
    const res = await instance.dispatcher.request({ method: 'GET', path: '/via-socket' });
    assert.equal(await res.body.text(), 'ok /via-socket');
  });

  it('closes its idle connections when closed (instance removed)', async () => {
    const s = await server();
    const upstream = new Upstream(upstreamSpec([addressOf(s)]));
    const res = await upstream.instances[0]!.dispatcher.request({ method: 'GET', path: '/' });
    await res.body.text();
    const closed = once(s.sockets[0]!, 'close');
    await upstream.close();
    await closed;
    assert.ok(s.sockets[0]!.destroyed);
  });

  it('counts in-flight requests, requests and failures (5xx only when count_5xx)', () => {
    const [plain, strict] = [false, true].map((count5xx) => {
      const upstream = new Upstream(upstreamSpec(idleAddresses(1), { passive: { count5xx } }));
      cleanups.push(() => upstream.close());
      return upstream.instances[0]!;
    });
    for (const instance of [plain!, strict!]) {
      instance.requestStarted();
      instance.requestStarted();
      assert.equal(instance.inFlight, 2);
      instance.requestFinished('status_5xx');
      instance.requestFinished('connect_failure');
      instance.requestStarted();
      instance.requestFinished('cancelled');
      assert.equal(instance.inFlight, 0);
      assert.equal(instance.requests, 3);
    }
    assert.equal(plain!.failures, 1);
    assert.equal(strict!.failures, 2);
  });

  it('starts ready without a process, not ready with an instance- or upstream-level process', () => {
    const [address] = idleAddresses(1);
    const none = new Upstream(upstreamSpec([address!]));
    const own = new Upstream(upstreamSpec([{ address: address!, process: fakeProcess }]));
    const shared = new Upstream(upstreamSpec(idleAddresses(2), { process: fakeProcess }));
    cleanups.push(() => none.close(), () => own.close(), () => shared.close());
    assert.equal(none.instances[0]!.isAvailable(), true);
    assert.equal(own.instances[0]!.isAvailable(), false);
    assert.ok(shared.instances.every((i) => !i.isAvailable()));
    own.instances[0]!.setProcessReady(true);
    assert.equal(own.instances[0]!.isAvailable(), true);
  });
});

describe('fromUpstreamError on real failures: what each says about the instance', { timeout: 20_000 }, () => {
  async function failureOf(s: TestUpstream | undefined, options: SpecOptions & { socketPath?: string } = {}, signal?: AbortSignal): Promise<string> {
    const address = options.socketPath ? { kind: 'unix' as const, socketPath: options.socketPath } : addressOf(s!);
    const upstream = new Upstream(upstreamSpec([address], options));
    cleanups.push(() => upstream.close());
    try {
      const res = await upstream.instances[0]!.dispatcher.request({ method: 'GET', path: '/', signal });
      await res.body.text();
      return 'no error';
    } catch (error) {
      return fromUpstreamError(error).outcome;
    }
  }

  it('refused TCP connection → connect_failure', async () => {
    const s = await server();
    await s.close();
    assert.equal(await failureOf(s), 'connect_failure');
  });

  it('missing Unix socket → connect_failure', async () => {
    assert.equal(await failureOf(undefined, { socketPath: path.join(tempDir(), 'nobody.sock') }), 'connect_failure');
  });

  it('connection closed before the response → reset', async () => {
    const s = await startUpstream((req) => req.socket.destroy());
    cleanups.push(() => s.close());
    assert.equal(await failureOf(s), 'reset');
  });

  it('no response within the read timeout → timeout', async () => {
    const held: Array<{ destroy(): void }> = [];
    const s = await startUpstream((_req, res) => void held.push(res));
    cleanups.push(async () => {
      for (const r of held) r.destroy();
      await s.close();
    });
    assert.equal(await failureOf(s, { readTimeoutMs: 100 }), 'timeout');
  });

  it('aborted by us → cancelled', async () => {
    const held: Array<{ destroy(): void }> = [];
    const s = await startUpstream((_req, res) => void held.push(res));
    cleanups.push(async () => {
      for (const r of held) r.destroy();
      await s.close();
    });
    const controller = new AbortController();
    s.server.once('request', () => controller.abort());
    assert.equal(await failureOf(s, {}, controller.signal), 'cancelled');
  });
});

describe('per-route connect timeouts (Upstream.connectSlot)', { timeout: 20_000 }, () => {
  it('slot 0 is the instance dispatcher; another timeout gets its own pools, shared by routes asking the same', async () => {
    const upstream = new Upstream(upstreamSpec(idleAddresses(2), { connectTimeoutMs: 5_000 }));
    cleanups.push(() => upstream.close());
    assert.equal(upstream.connectSlot(undefined), 0);
    assert.equal(upstream.connectSlot(5_000), 0);
    const slot = upstream.connectSlot(250);
    assert.equal(slot, 1);
    assert.equal(upstream.connectSlot(250), 1);
    assert.equal(upstream.connectSlot(900), 2);
    for (const instance of upstream.instances) {
      assert.equal(instance.dispatchers[0], instance.dispatcher);
      assert.equal(instance.dispatchers.length, 3);
      assert.notEqual(instance.dispatchers[1], instance.dispatcher);
    }
  });

  it('a slot pool connects with its own timeout: a handshake that never completes fails as connect_failure', async () => {
    
    const hole = await startBlackhole();
    cleanups.push(() => hole.close());
    const upstream = new Upstream(upstreamSpec([{ kind: 'tcp', host: '127.0.0.1', port: hole.port }], { connectTimeoutMs: 60_000 }));
    cleanups.push(() => upstream.close());
    const slot = upstream.connectSlot(200);
    const failure = await upstream.instances[0]!.dispatchers[slot]!.request({ method: 'GET', path: '/' }).then(
      () => 'no error',
      (error: unknown) => `${(error as { code?: string }).code} → ${fromUpstreamError(error).outcome}`,
    );
    assert.equal(failure, 'UND_ERR_CONNECT_TIMEOUT → connect_failure');
  });

  it('a slot pool serves requests like the main one, and close() closes every slot', async () => {
    const s = await server();
    const upstream = new Upstream(upstreamSpec([addressOf(s)]));
    const slot = upstream.connectSlot(1_234);
    const res = await upstream.instances[0]!.dispatchers[slot]!.request({ method: 'GET', path: '/slot' });
    assert.equal(await res.body.text(), 'ok /slot');
    const closed = once(s.sockets.at(-1)!, 'close');
    await upstream.close();
    await closed;
  });
});
