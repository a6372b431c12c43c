/**
 * The Exchange and the ResponseSink in process: undici's handler calls are made
 * by the test (the fake source), uWS's response is a recorder (the fake sink's
 * socket). What reaches a real client over real sockets is covered by
 * test/integration/; this file pins down the decisions in between.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { ThreadServices } from '../../src/filters/index.js';
import { BufferBodySource, type BodyWriter } from '../../src/pipeline/body.js';
import { errors } from '../../src/pipeline/errors.js';
import { Exchange, type ExchangeOwner } from '../../src/pipeline/exchange.js';
import { compileFilterChain, type Filter } from '../../src/pipeline/filter.js';
import { ResponseHead } from '../../src/pipeline/response-head.js';
import { ProxyRoute } from '../../src/pipeline/route.js';
import { Generation } from '../../src/runtime/generation.js';
import { FakeResponse } from '../helpers/fake-uws-response.js';

const plan = parseConfig(
  `
[upstreams.app]
host = "127.0.0.1"
port = 9

[[routes]]
path_prefix = "/"
upstream = "app"
`,
  'exchange-test.toml',
);
const generation = Generation.build(plan, new ThreadServices(0));
after(() => Promise.all([...generation.upstreams.values()].map((u) => u.close())));

class Owner implements ExchangeOwner {
  draining = false;
  finished: Exchange[] = [];
  proceeded: Exchange[] = [];
  proceed(x: Exchange): void {
    this.proceeded.push(x);
  }
  resumeFilters(): void {}
  exchangeFinished(x: Exchange): void {
    this.finished.push(x);
  }
}

/** An exchange for GET / routed to "app", optionally with filters on its route. */
function exchange(filters: Filter[] = [], method = 'GET'): { x: Exchange; res: FakeResponse; owner: Owner } {
  const res = new FakeResponse();
  const owner = new Owner();
  const x = new Exchange(owner, generation.acquire(), res.asResponse, 0);
  x.method = method;
  x.path = '/';
  x.sink.isHeadRequest = method === 'HEAD';
  const base = generation.routes[0]!;
  x.route = filters.length === 0 ? base : new ProxyRoute(base.spec, base.upstream, plan.upstreams.get('app')!, compileFilterChain(filters));
  return { x, res, owner };
}

const raw = (...pairs: string[]): Buffer[] => pairs.map((p) => Buffer.from(p));
const microtask = (): Promise<void> => new Promise((resolve) => queueMicrotask(resolve));
const noop = (): void => {};

describe('Exchange: relaying an upstream response', () => {
  it('writes head and a small body in one cork (one write(2)), and finishes once', async () => {
    const { x, res, owner } = exchange();
    x.onHeaders(200, raw('Content-Type', 'text/plain', 'Content-Length', '5'), noop, 'OK');
    x.onData(Buffer.from('hello'));
    x.onComplete();
    await microtask();
    assert.equal(res.corks.length, 1, JSON.stringify(res.corks));
    assert.deepEqual(res.corks[0]!.map((c) => c.op), ['status', 'header', 'tryEnd']);
    assert.equal(res.body(), 'hello');
    assert.equal(owner.finished.length, 1);
    assert.equal(x.status, 200);
  });

  it('drops interim 1xx responses and relays the final one', async () => {
    const { x, res } = exchange();
    x.onHeaders(103, raw('Link', '</a.css>; rel=preload'), noop, 'Early Hints');
    x.onHeaders(100, [], noop, 'Continue');
    x.onHeaders(200, raw('Content-Length', '2'), noop, 'OK');
    x.onData(Buffer.from('ok'));
    x.onComplete();
    await microtask();
    assert.deepEqual(res.calls[0], { op: 'status', line: '200 OK' });
    assert.ok(!res.headers().some(([name]) => name === 'Link'));
  });

  it('removes hop-by-hop headers, including those the upstream\'s Connection header names', async () => {
    const { x, res } = exchange();
    x.onHeaders(200, raw('Connection', 'close, X-Secret', 'X-Secret', 'internal', 'Keep-Alive', 'timeout=5', 'X-Public', 'yes', 'Content-Length', '0'), noop, 'OK');
    x.onComplete();
    await microtask();
    assert.deepEqual(res.headers(), [['X-Public', 'yes']]);
  });

  it('an error before the head went out becomes a clean 502, not a half-written response', async () => {
    const { x, res } = exchange();
    x.onHeaders(200, raw('Transfer-Encoding', 'chunked'), noop, 'OK');
    const parseError = Object.assign(new Error('Response does not match the HTTP/1.1 protocol (Invalid character in chunk size)'), { code: 'HPE_INVALID_CHUNK_SIZE' });
    x.onError(parseError);
    await microtask();
    assert.deepEqual(res.calls[0], { op: 'status', line: '502 Bad Gateway' });
    assert.ok(res.calls.some((c) => c.op === 'end'), 'ended, not closed');
    assert.ok(!res.calls.some((c) => c.op === 'close'));
    assert.equal(x.error, errors.badResponse);
  });

  it('an error after the head went out cuts the connection (the client sees a truncated body)', async () => {
    const { x, res } = exchange();
    x.onHeaders(200, raw('Transfer-Encoding', 'chunked'), noop, 'OK');
    x.onData(Buffer.from('partial'));
    await microtask();
    x.onError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    assert.equal(res.calls.at(-1)!.op, 'close');
    assert.ok(!res.calls.some((c) => c.op === 'end'));
  });

  it('a 304 with Content-Length that undici calls a length mismatch is a complete 304 for the client', async () => {
    const { x, res } = exchange();
    x.onHeaders(304, raw('ETag', '"abc"', 'Content-Length', '1234'), noop, 'Not Modified');
    x.onError(Object.assign(new Error('Response body object length mismatch'), { code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' }));
    await microtask();
    // The length as a header and endWithoutBody bare: uWS's endWithoutBody(1234) would drop the
    // connection at the client's next request.
    assert.deepEqual(res.headers(), [['ETag', '"abc"'], ['content-length', '1234']]);
    assert.deepEqual(res.calls.at(-1), { op: 'endWithoutBody', length: undefined, close: false });
    assert.equal(x.status, 304);
    assert.equal(x.error, undefined);
  });

  it('a 204 never carries a Content-Length', async () => {
    const { x, res } = exchange();
    x.onHeaders(204, raw('Content-Length', '10'), noop, 'No Content');
    x.onComplete();
    await microtask();
    assert.deepEqual(res.calls.at(-1), { op: 'endWithoutBody', length: undefined, close: false }, 'called bare: endWithoutBody(undefined, close) would write a garbage Content-Length');
  });

  it('pauses undici when the client cannot take more and resumes on drain', async () => {
    const { x, res } = exchange();
    let resumed = 0;
    x.onHeaders(200, raw('Content-Length', '10'), () => resumed++, 'OK');
    assert.equal(x.onData(Buffer.from('12345')), true);
    res.congested = true;
    assert.equal(x.onData(Buffer.from('67890')), false, 'tells undici to pause');
    assert.equal(resumed, 0);
    res.drain();
    assert.equal(resumed, 1);
    assert.equal(res.body(), '1234567890');
  });

  it('a refused request (undici would not send it) is the client\'s 400 and charges no instance', () => {
    const { x, res } = exchange();
    const instance = x.route!.upstream!.instances[0]!;
    const before = instance.failures;
    x.instance = instance;
    instance.requestStarted();
    x.onError(Object.assign(new Error('invalid request path'), { code: 'UND_ERR_INVALID_ARG' }));
    assert.deepEqual(res.calls[0], { op: 'status', line: '400 Bad Request' });
    assert.equal(instance.failures, before);
    assert.equal(instance.inFlight, 0);
  });
});

describe('Exchange: filters', () => {
  it('a responseHead filter edits headers; the raw bytes path is left for routes without one', async () => {
    const tagger: Filter = {
      name: 'tagger',
      responseHead(_x, head) {
        head.set('X-Tag', 'seen').remove('Server');
      },
    };
    const { x, res } = exchange([tagger]);
    x.onHeaders(200, raw('Server', 'upstream/1', 'Content-Length', '2'), noop, 'OK');
    x.onData(Buffer.from('hi'));
    x.onComplete();
    await microtask();
    assert.deepEqual(res.headers(), [['X-Tag', 'seen']]);
  });

  it('a body transform sees every chunk, with backpressure passed through', async () => {
    const upper: Filter = {
      name: 'upper',
      responseHead(x, head) {
        head.remove('content-length');
        x.transformBody((next: BodyWriter) => ({
          onDrain: undefined,
          write(chunk) {
            return next.write(Buffer.from(chunk.toString().toUpperCase()));
          },
          end() {
            next.end();
          },
          abort() {
            next.abort();
          },
        }));
      },
    };
    const { x, res } = exchange([upper]);
    x.onHeaders(200, raw('Content-Length', '5'), noop, 'OK');
    x.onData(Buffer.from('hel'));
    x.onData(Buffer.from('lo'));
    x.onComplete();
    await microtask();
    assert.equal(res.body(), 'HELLO');
    assert.ok(res.calls.some((c) => c.op === 'write'), 'chunked once Content-Length is gone');
  });

  it('replaceBody serves another source and drops the upstream body', async () => {
    const sendfile: Filter = {
      name: 'replace',
      responseHead(x, head) {
        head.set('Content-Length', '4');
        x.replaceBody(new BufferBodySource(Buffer.from('file')));
      },
    };
    const { x, res, owner } = exchange([sendfile]);
    x.onHeaders(200, raw('Content-Length', '8'), noop, 'OK');
    x.onData(Buffer.from('upstream'));
    x.onComplete();
    await microtask();
    assert.equal(res.body(), 'file');
    assert.equal(owner.finished.length, 1);
  });

  it('done filters run once, for routed and for refused requests', () => {
    let calls = 0;
    const counter: Filter = { name: 'count', done: () => void calls++ };
    const { x } = exchange([counter]);
    x.fail(errors.unauthorized);
    x.finish();
    assert.equal(calls, 1);
  });

  it('serve() answers with a streamed source through the responseHead filters', async () => {
    const seen: number[] = [];
    const watcher: Filter = { name: 'watch', responseHead: (_x, head) => void seen.push(head.status) };
    const { x, res } = exchange([watcher]);
    x.serve(new ResponseHead(200, '', undefined, ['content-type', 'text/plain', 'content-length', '3']), new BufferBodySource(Buffer.from('abc')));
    await microtask();
    assert.deepEqual(seen, [200]);
    assert.equal(res.body(), 'abc');
    assert.equal(x.status, 200);
  });

  it('the client leaving cancels a served source', () => {
    let cancelled = 0;
    const { x, res } = exchange();
    x.serve(new ResponseHead(200, '', undefined, []), { length: -1, start: () => {}, cancel: () => void cancelled++ });
    res.abortFromClient();
    assert.equal(cancelled, 1);
    assert.equal(x.status, 200);
    assert.equal(x.finished, true);
  });
});
