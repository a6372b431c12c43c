/**
 * The built-in filters, each alone: given an exchange in a known state, what a
 * hook decides or writes. The end-to-end behaviour (through the CLI) is covered
 * in test/integration/proxy-http.test.ts and access-log.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { AccessLogFilter } from '../../src/filters/access-log.js';
import { AdminAuthFilter } from '../../src/filters/admin-auth.js';
import { ForwardedHeadersFilter } from '../../src/filters/forwarded-headers.js';
import { ThreadServices } from '../../src/filters/index.js';
import { RouteHeadersFilter } from '../../src/filters/route-headers.js';
import { TrustedProxies } from '../../src/filters/trusted-proxies.js';
import type { LogSink } from '../../src/log-sink.js';
import { Exchange, type ExchangeOwner } from '../../src/pipeline/exchange.js';
import { Verdict } from '../../src/pipeline/filter.js';
import { Generation } from '../../src/runtime/generation.js';
import { FakeResponse } from '../helpers/fake-uws-response.js';

const generation = Generation.build(
  parseConfig('[upstreams.app]\nhost = "127.0.0.1"\nport = 9\n[[routes]]\nupstream = "app"\n', 'filters-test.toml'),
  new ThreadServices(0),
);
after(() => Promise.all([...generation.upstreams.values()].map((u) => u.close())));

const owner: ExchangeOwner = { draining: false, proceed() {}, resumeFilters() {}, exchangeFinished() {} };

function exchange(): { x: Exchange; res: FakeResponse } {
  const res = new FakeResponse();
  const x = new Exchange(owner, generation.acquire(), res.asResponse, 0);
  x.method = 'GET';
  x.path = '/';
  x.route = generation.routes[0];
  return { x, res };
}

describe('AdminAuthFilter', () => {
  const filter = new AdminAuthFilter('sesame');

  it('lets the right token through', () => {
    const { x } = exchange();
    x.adminToken = 'sesame';
    assert.equal(filter.request(x), Verdict.Continue);
  });

  for (const token of [undefined, '', 'sesam', 'sesame!', 'SESAME']) {
    it(`answers 401 to ${JSON.stringify(token)}`, () => {
      const { x, res } = exchange();
      x.adminToken = token;
      assert.equal(filter.request(x), Verdict.Answered);
      assert.deepEqual(res.calls[0], { op: 'status', line: '401 Unauthorized' });
    });
  }
});

describe('ForwardedHeadersFilter', () => {
  const filter = new ForwardedHeadersFilter(new TrustedProxies(['10.0.0.0/8']));
  const run = (setup: (x: Exchange) => void): string[] => {
    const { x } = exchange();
    x.rawHost = 'example.com';
    setup(x);
    const headers: string[] = [];
    filter.upstreamRequest(x, headers);
    return headers;
  };

  it('sets X-Forwarded-* from the direct peer', () => {
    assert.deepEqual(run((x) => (x.clientIp = '203.0.113.7')), ['x-forwarded-for', '203.0.113.7', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'example.com']);
  });

  it('replaces a chain sent by an untrusted peer (a client cannot forge its address)', () => {
    const headers = run((x) => {
      x.clientIp = '203.0.113.7';
      x.xForwardedFor = '1.2.3.4';
      x.xForwardedProto = 'https';
    });
    assert.deepEqual(headers.slice(0, 4), ['x-forwarded-for', '203.0.113.7', 'x-forwarded-proto', 'http']);
  });

  it('appends to a trusted peer\'s chain and keeps its proto and host', () => {
    const headers = run((x) => {
      x.clientIp = '10.1.2.3';
      x.xForwardedFor = '198.51.100.9';
      x.xForwardedProto = 'https';
      x.xForwardedHost = 'public.example';
    });
    assert.deepEqual(headers, ['x-forwarded-for', '198.51.100.9, 10.1.2.3', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'public.example']);
  });

  it('says https for a request that came over TLS', () => {
    assert.equal(run((x) => { x.clientIp = '203.0.113.7'; x.scheme = 'https'; })[3], 'https');
  });
});

describe('RouteHeadersFilter', () => {
  it('replaces incoming headers of the same name, in any case, and appends its own', () => {
    const filter = new RouteHeadersFilter([{ name: 'X-Backend', value: 'api' }, { name: 'x-extra', value: '1' }]);
    const { x } = exchange();
    const headers = ['host', 'a', 'x-backend', 'forged', 'accept', '*/*'];
    filter.upstreamRequest(x, headers);
    assert.deepEqual(headers, ['host', 'a', 'accept', '*/*', 'x-backend', 'api', 'x-extra', '1']);
  });
});

describe('AccessLogFilter', () => {
  it('writes one line with client, request line, status, bytes, time, upstream, instance and thread', () => {
    const lines: string[] = [];
    const filter = new AccessLogFilter({ writeLine: (line: string) => lines.push(line) } as unknown as LogSink);
    const { x } = exchange();
    x.clientIp = '127.0.0.1';
    x.path = '/orders';
    x.query = 'page=2';
    x.respond(404, [], 'nope');
    filter.done(x);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^127\.0\.0\.1 "GET \/orders\?page=2" 404 4 \d+\.\dms upstream=app instance=- thread=0$/);
  });
});
