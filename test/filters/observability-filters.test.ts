/**
 * The filters and helpers behind "logs people can use", each alone: X-Request-Id,
 * X-Request-Start, the upstream error log (and its rate limit), and the one-line-
 * per-change log of instance state with several threads. Through the real CLI:
 * test/integration/logging.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { ErrorLogFilter, UpstreamErrorLog } from '../../src/filters/error-log.js';
import { ThreadServices } from '../../src/filters/index.js';
import { RequestIdFilter, RequestIdGenerator } from '../../src/filters/request-id.js';
import { RequestStartFilter } from '../../src/filters/request-start.js';
import { takeHeader } from '../../src/filters/take-header.js';
import { TrustedProxies } from '../../src/filters/trusted-proxies.js';
import type { Logger } from '../../src/log.js';
import { errors } from '../../src/pipeline/errors.js';
import { Exchange, type ExchangeOwner } from '../../src/pipeline/exchange.js';
import { Generation } from '../../src/runtime/generation.js';
import { InstanceStateLog, setInstanceStateReporter, type InstanceStateEvent } from '../../src/upstream/state-events.js';
import { FakeResponse } from '../helpers/fake-uws-response.js';

const generation = Generation.build(parseConfig('[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n', 'obs-test.toml'), new ThreadServices(0));
after(() => Promise.all([...generation.upstreams.values()].map((u) => u.close())));
const owner: ExchangeOwner = { draining: false, proceed() {}, resumeFilters() {}, exchangeFinished() {} };
const trusted = new TrustedProxies(['10.0.0.0/8']);

function exchange(clientIp = '203.0.113.9'): Exchange {
  const x = new Exchange(owner, generation.acquire(), new FakeResponse().asResponse, 0);
  x.method = 'GET';
  x.path = '/';
  x.clientIp = clientIp;
  x.route = generation.routes[0];
  return x;
}

describe('takeHeader', () => {
  it('removes every copy in place, keeps the order of the rest, returns the first value', () => {
    const headers = ['host', 'a', 'x-request-id', 'one', 'accept', '*/*', 'x-request-id', 'two'];
    assert.equal(takeHeader(headers, 'x-request-id'), 'one');
    assert.deepEqual(headers, ['host', 'a', 'accept', '*/*']);
    assert.equal(takeHeader(headers, 'x-request-id'), undefined);
    assert.deepEqual(headers, ['host', 'a', 'accept', '*/*']);
  });
});

describe('RequestIdFilter', () => {
  const ids = new RequestIdGenerator();
  const filter = new RequestIdFilter(trusted, ids);
  const run = (clientIp: string, incoming?: string): { id: string; headers: string[] } => {
    const x = exchange(clientIp);
    const headers = ['host', 'a', ...(incoming === undefined ? [] : ['x-request-id', incoming])];
    filter.upstreamRequest(x, headers);
    return { id: x.requestId, headers };
  };

  it('generates unique ids: a per-thread random prefix and a counter', () => {
    const a = run('203.0.113.9').id;
    const b = run('203.0.113.9').id;
    assert.match(a, /^[0-9a-f]{12}-[0-9a-z]+$/);
    assert.notEqual(a, b);
    assert.equal(a.split('-')[0], b.split('-')[0]);
    assert.notEqual(new RequestIdGenerator().next().split('-')[0], a.split('-')[0], 'another thread, another prefix');
  });

  it('sends exactly one x-request-id upstream', () => {
    const { id, headers } = run('203.0.113.9', 'forged');
    assert.deepEqual(headers, ['host', 'a', 'x-request-id', id]);
  });

  it('keeps a trusted hop\'s id, replaces an untrusted client\'s, and an unusable one from anyone', () => {
    assert.equal(run('10.1.2.3', 'lb-7f3a').id, 'lb-7f3a');
    assert.notEqual(run('203.0.113.9', 'lb-7f3a').id, 'lb-7f3a');
    assert.notEqual(run('10.1.2.3', 'has space').id, 'has space');
    assert.notEqual(run('10.1.2.3', 'x'.repeat(201)).id.length, 201);
  });
});

describe('RequestStartFilter', () => {
  const filter = new RequestStartFilter(trusted);

  it('t= microseconds since the epoch when warpdrive took the request', () => {
    const x = exchange();
    const headers: string[] = ['x-request-start', 't=1'];
    const before = Date.now() * 1000;
    filter.upstreamRequest(x, headers);
    assert.equal(headers.length, 2);
    const micros = Number(/^t=(\d+)$/.exec(headers[1]!)![1]);
    // x.startedAt was taken just before; allow for the clock's granularity.
    assert.ok(Math.abs(micros - before) < 1_000_000, `${micros} near ${before}`);
  });

  it('keeps a trusted hop\'s stamp', () => {
    const headers: string[] = ['x-request-start', 't=1700000000000000'];
    filter.upstreamRequest(exchange('10.0.0.5'), headers);
    assert.deepEqual(headers, ['x-request-start', 't=1700000000000000']);
  });
});

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (line: string): void => void lines.push(line);
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

describe('UpstreamErrorLog and ErrorLogFilter', () => {
  it('logs an upstream failure once with its cause, and keeps it for the dashboard', () => {
    const { logger, lines } = capture();
    const log = new UpstreamErrorLog(0, { logger });
    const x = exchange();
    x.host = 'shop.example';
    x.path = '/orders';
    x.requestId = 'abc-1';
    x.fail(errors.connectFailed, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }));
    new ErrorLogFilter(log).done(x);
    assert.equal(lines.length, 1);
    assert.equal(lines[0], '502 GET shop.example/orders -> app: could not connect to the upstream [WD_ERR_UPSTREAM_CONNECT]; connect ECONNREFUSED 127.0.0.1:9 rid=abc-1');
    assert.deepEqual(log.recent().map((e) => [e.status, e.code, e.cause]), [[502, 'WD_ERR_UPSTREAM_CONNECT', 'connect ECONNREFUSED 127.0.0.1:9']]);
  });

  it('a 503 says why each instance was out', () => {
    const { logger, lines } = capture();
    const x = exchange();
    generation.routes[0]!.upstream!.instances[0]!.setDrained(true);
    try {
      x.fail(errors.noInstance);
      new ErrorLogFilter(new UpstreamErrorLog(0, { logger })).done(x);
    } finally {
      generation.routes[0]!.upstream!.instances[0]!.setDrained(false);
    }
    assert.match(lines[0]!, /^503 GET \/ -> app: no upstream instance is available \[WD_ERR_NO_INSTANCE\]; app#0 drained$/);
  });

  it('client mistakes and shutdown refusals are not upstream errors', () => {
    const { logger, lines } = capture();
    const filter = new ErrorLogFilter(new UpstreamErrorLog(0, { logger }));
    for (const error of [errors.noRoute, errors.badHost, errors.methodNotImplemented, errors.shuttingDown, errors.clientGone]) {
      const x = exchange();
      x.fail(error);
      filter.done(x);
    }
    assert.deepEqual(lines, []);
  });

  it('under a flood: at most maxLinesPerSecond lines, then one line counting the rest', async () => {
    const { logger, lines } = capture();
    const log = new UpstreamErrorLog(0, { logger, maxLinesPerSecond: 3 });
    const filter = new ErrorLogFilter(log);
    for (let i = 0; i < 10; i++) {
      const x = exchange();
      x.fail(errors.readTimeout);
      filter.done(x);
    }
    assert.equal(lines.length, 3);
    assert.equal(log.recent().length, 10, 'the dashboard still sees every one');
    // The summary comes when the second is over.
    const deadline = Date.now() + 3000;
    while (lines.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(lines[3], '7 more upstream errors not logged (at most 3 lines a second per proxy thread)');
  });
});

describe('InstanceStateLog (several proxy threads)', () => {
  const event = (kind: InstanceStateEvent['kind'], reason = 'r'): InstanceStateEvent => ({ instanceId: 'app#0', address: '127.0.0.1:9', kind, reason });

  it('an ejection is logged when the first thread ejects, the restoration when the last one restores; readiness from the main thread only', () => {
    const logged: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      logged.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const log = new InstanceStateLog();
      log.report(1, event('ejected', '3 consecutive failures'));
      log.report(0, event('ejected'));
      log.report(2, event('half_open'));
      log.report(1, event('restored'));
      log.report(0, event('restored', 'probe request succeeded'));
      log.report(1, event('process_ready'));
      log.report(0, event('process_ready'));
    } finally {
      process.stderr.write = original;
    }
    const lines = logged.map((l) => l.replace(/^\S+ (\S+)\s+\[upstream\] /, '$1 ').trim());
    assert.deepEqual(lines, [
      'warn app#0 (127.0.0.1:9) ejected: 3 consecutive failures (proxy thread 1; each thread judges its own requests)',
      'info app#0 (127.0.0.1:9) restored: probe request succeeded (proxy thread 0; no thread ejects it now)',
      'info app#0 (127.0.0.1:9) process ready',
    ]);
  });

  it('instances report through the reporter a thread sets', () => {
    const seen: InstanceStateEvent[] = [];
    const previous = setInstanceStateReporter((e) => seen.push(e));
    try {
      const instance = generation.routes[0]!.upstream!.instances[0]!;
      instance.setProcessReady(false);
      instance.setProcessReady(true);
    } finally {
      setInstanceStateReporter(previous);
    }
    assert.deepEqual(seen.map((e) => e.kind), ['process_not_ready', 'process_ready']);
  });
});
