/**
 * What a client receives when an upstream's answer is valid but unusual, or
 * cannot be relayed at all, through the real CLI: the upstream is a raw TCP
 * server that writes exact bytes and records what it was sent, the client a raw
 * socket (tests/helpers/raw-http.ts). Also requests that undici would refuse to
 * send, which must never count against an instance.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { request } from 'undici';
import { parseResponses, rawExchange } from '../helpers/raw-http.js';
import { ejectablePoolConfig } from '../helpers/pool-config.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 30_000 };

/** Raw answers by request path; `{ close: true }` ends the connection after writing. */
const answers: Record<string, { bytes: string; close?: boolean }> = {
  '/ok': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' },
  '/304-with-length': { bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "abc"\r\nContent-Length: 1234\r\n\r\n' },
  '/204-with-body': { bytes: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello' },
  '/bad-chunk': { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' },
  '/hop-by-hop': { bytes: 'HTTP/1.1 200 OK\r\nConnection: close, X-Secret\r\nX-Secret: internal\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nok', close: true },
  '/early-hints': { bytes: 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal' },
  '/cut-chunked': { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', close: true },
  '/cut-length': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this', close: true },
};

interface RawUpstream {
  readonly port: number;
  /** Request heads received, in order, with the connection number each came on. */
  readonly requests: Array<{ connection: number; head: string }>;
  close(): Promise<void>;
}

async function startRawUpstream(): Promise<RawUpstream> {
  const requests: RawUpstream['requests'] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        requests.push({ connection, head });
        const path = head.split(' ')[1]!.split('?')[0]!;
        const answer = answers[path] ?? answers['/ok']!;
        if (answer.close) socket.end(answer.bytes, 'latin1');
        else socket.write(answer.bytes, 'latin1');
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;

/**
 * Sends `requests` one after another on one connection, each once the previous
 * response is complete (this uWS build drops a connection that pipelines behind a
 * pending response), and returns everything received.
 */
async function sequential(port: number, requests: readonly string[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  for (let i = 0; i < requests.length && !closed; i++) {
    socket.write(requests[i]!);
    const deadline = Date.now() + 2000;
    while (!closed && parseResponses(received).responses.filter((r) => r.status >= 200).length <= i && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  socket.destroy();
  return received;
}

describe('unusual and broken upstream answers', bounded, () => {
  let upstream: RawUpstream;
  let wd: RunningWarpdrive;

  before(async () => {
    upstream = await startRawUpstream();
    wd = await startWarpdrive(
      writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[middleware]
admin_token = "sesame"

[upstreams.raw]
host = "127.0.0.1"
port = ${upstream.port}

[[routes]]
path_prefix = "/admin"
upstream = "raw"
require_auth = true

[[routes]]
path_prefix = "/"
upstream = "raw"
`),
    );
  });
  after(async () => {
    await wd?.stop();
    await upstream?.close();
  });

  test('a valid 304 carrying Content-Length reaches the client whole, and the connection goes on', bounded, async () => {
    const raw = await sequential(wd.port, [get('/304-with-length'), get('/ok')]);
    const { responses } = parseResponses(raw);
    assert.deepEqual(responses.map((r) => r.status), [304, 200], raw);
    assert.equal(responses[0]!.headers.etag, '"abc"');
    assert.equal(responses[1]!.body, 'ok');
  });

  test('a 204 that wrongly carries a body is a clean 204, and that upstream connection is not used again', bounded, async () => {
    const before = upstream.requests.length;
    const raw = await sequential(wd.port, [get('/204-with-body'), get('/ok')]);
    const { responses } = parseResponses(raw);
    assert.deepEqual(responses.map((r) => r.status), [204, 200], raw);
    assert.equal(responses[1]!.body, 'ok', 'the stray body did not become the next response');
    const [first, second] = upstream.requests.slice(before);
    assert.notEqual(first!.connection, second!.connection);
  });

  test('an answer that cannot be read (invalid chunk size) is a clean 502 when nothing was sent yet', bounded, async () => {
    const exchange = await rawExchange(wd.port, get('/bad-chunk'));
    const { responses } = parseResponses(exchange.raw);
    assert.equal(responses[0]?.status, 502, exchange.raw);
    assert.doesNotMatch(exchange.raw, /^HTTP\/1\.1 200/);
  });

  test('an upstream that dies mid-body: the client can tell (no chunk terminator; fewer bytes than declared)', bounded, async () => {
    const chunked = await rawExchange(wd.port, get('/cut-chunked'), { until: 'close', timeoutMs: 2000 });
    assert.match(chunked.raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(!chunked.raw.endsWith('0\r\n\r\n'), `no terminating chunk: ${JSON.stringify(chunked.raw)}`);
    assert.equal(parseResponses(chunked.raw).complete, false);
    const fixed = await rawExchange(wd.port, get('/cut-length'), { until: 'close', timeoutMs: 2000 });
    assert.match(fixed.raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(fixed.raw, /Content-Length: 100\r\n/i);
    assert.equal(parseResponses(fixed.raw).complete, false);
  });

  test('headers an upstream\'s Connection header names are removed, like the fixed hop-by-hop ones', bounded, async () => {
    const exchange = await rawExchange(wd.port, get('/hop-by-hop'));
    const response = parseResponses(exchange.raw).responses[0]!;
    assert.equal(response.headers['x-public'], 'yes');
    assert.equal(response.headers['x-secret'], undefined);
  });

  test('an interim 103 is dropped and the final response relayed', bounded, async () => {
    const exchange = await rawExchange(wd.port, get('/early-hints'));
    const final = parseResponses(exchange.raw).responses.find((r) => r.status >= 200)!;
    assert.equal(final.status, 200);
    assert.equal(final.body, 'final');
  });

  test('two X-Admin-Token headers are refused with 400, whichever comes first', bounded, async () => {
    for (const order of [['sesame', 'wrong'], ['wrong', 'sesame']]) {
      const exchange = await rawExchange(wd.port, get('/admin/x', `X-Admin-Token: ${order[0]}\r\nX-Admin-Token: ${order[1]}\r\n`));
      assert.equal(parseResponses(exchange.raw).responses[0]?.status, 400, exchange.raw);
    }
    const single = await rawExchange(wd.port, get('/admin/x', 'X-Admin-Token: sesame\r\n'));
    assert.equal(parseResponses(single.raw).responses[0]?.status, 200);
  });
});

describe('HEAD over keep-alive', bounded, () => {
  test('a HEAD answer with Content-Length leaves the connection usable', bounded, async () => {
    const upstream = await startRawUpstream();
    const wd = await startWarpdrive(writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
[upstreams.raw]
host = "127.0.0.1"
port = ${upstream.port}
[[routes]]
upstream = "raw"
`));
    try {
      const raw = await sequential(wd.port, ['HEAD /ok HTTP/1.1\r\nHost: x\r\n\r\n', get('/ok')]);
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 2\r\n/i);
      assert.equal(raw.match(/HTTP\/1\.1 200 OK/g)?.length, 2, raw);
      assert.ok(raw.endsWith('\r\n\r\nok'), raw);
    } finally {
      await wd.stop();
      await upstream.close();
    }
  });
});

describe('requests undici would refuse never count against an instance', bounded, () => {
  let one: RawUpstream;
  let two: RawUpstream;
  let wd: RunningWarpdrive;

  before(async () => {
    one = await startRawUpstream();
    two = await startRawUpstream();
    wd = await startWarpdrive(
      writeConfig(ejectablePoolConfig([one.port, two.port])),
    );
  });
  after(async () => {
    await wd?.stop();
    await one?.close();
    await two?.close();
  });

  test('a raw non-UTF-8 byte in the query is a 400, three times over, and both instances keep serving', bounded, async () => {
    const before = one.requests.length + two.requests.length;
    for (let i = 0; i < 3; i++) {
      const exchange = await rawExchange(wd.port, Buffer.from('GET /x?q=\xf1 HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
      assert.equal(parseResponses(exchange.raw).responses[0]?.status, 400, exchange.raw);
    }
    assert.equal(one.requests.length + two.requests.length, before, 'nothing reached an upstream');
    const statuses = await Promise.all(Array.from({ length: 6 }, async () => (await request(`${wd.url}/fine`)).statusCode));
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    assert.ok(one.requests.length > 0 && two.requests.length > 0, 'neither instance was ejected');
    assert.doesNotMatch(wd.output(), /ejected/);
  });

  test('non-ASCII UTF-8 in path and query is percent-encoded as browsers send it', bounded, async () => {
    await rawExchange(wd.port, Buffer.from('GET /caf\xc3\xa9?q=\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
    const last = [...one.requests, ...two.requests].find((r) => r.head.includes('/caf'));
    assert.ok(last, 'forwarded');
    assert.match(last.head, /^GET \/caf%C3%A9\?q=%C3%A9 HTTP\/1\.1\r\n/);
  });
});
