/**
 * HTTP/1.1 proxying as a client observes it: real upstreams (TCP and Unix
 * socket), the real warpdrive CLI, real clients (undici, curl).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { rawExchange } from '../helpers/raw-http.js';
import { echoHandler, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const execFileAsync = promisify(execFile);

interface Echo {
  name: string;
  method: string;
  url: string;
  rawHeaders: string[];
  headers: Record<string, string>;
  bodyBytes: number;
}

/** Values of a header in the upstream's raw header list (keeps repeats). */
function rawValues(echo: Echo, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < echo.rawHeaders.length; i += 2) if (echo.rawHeaders[i]!.toLowerCase() === name) values.push(echo.rawHeaders[i + 1]!);
  return values;
}

describe('proxying HTTP/1.1', () => {
  let tcp: TestUpstream;
  let unix: TestUpstream;
  let special: TestUpstream;
  let wd: RunningWarpdrive;
  const agent = new Agent({ keepAliveTimeout: 1000 });
  /** Emits 'arrived' when a /hang request reaches the upstream and 'closed' when it is cancelled. */
  const hang = new EventEmitter();

  before(async () => {
    tcp = await startUpstream(echoHandler('tcp'));
    unix = await startUpstream(echoHandler('unix'), { unix: true });
    special = await startUpstream((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/cookies')) {
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
        res.setHeader('connection', 'x-secret');
        res.setHeader('x-secret', 'hop');
        res.setHeader('keep-alive', 'timeout=5');
        res.end('cookies');
      } else if (url.startsWith('/raw-head')) {
        // Names in the upstream's own case, repeats interleaved, and the headers the
        // proxy must not copy (uWS writes its own Date and Content-Length) in odd case.
        res.writeHead(200, ['X-Multi', 'one', 'Set-Cookie', 'a=1', 'x-multi', 'two', 'KEEP-ALIVE', 'timeout=5', 'DaTe', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Content-LENGTH', '4', 'ETag', '"e"']);
        res.end('head');
      } else if (url.startsWith('/reason')) {
        res.statusMessage = 'Totally Fine';
        res.statusCode = 299;
        res.end('reason');
      } else if (url.startsWith('/status/')) {
        const status = Number(url.slice('/status/'.length));
        res.writeHead(status, { etag: '"v1"' });
        res.end();
      } else if (url.startsWith('/chunked')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part one, ');
        setTimeout(() => res.end('part two'), 20);
      } else if (url.startsWith('/sse')) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const timer = setInterval(() => {
          res.write(`data: event ${n}\n\n`);
          if (++n === 3) {
            clearInterval(timer);
            // The last event is sent only after the client has acknowledged the first three
            // by closing... no: end after a pause long enough that buffering would show.
            setTimeout(() => res.end('data: done\n\n'), 300);
          }
        }, 50);
      } else if (url.startsWith('/hang')) {
        req.on('close', () => hang.emit('closed'));
        hang.emit('arrived');
        // never answers
      } else if (url.startsWith('/reset')) {
        req.socket.destroy();
      } else {
        echoHandler('special')(req, res);
      }
    });
    const config = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"

[upstreams.tcp]
${tcp.toml}

[upstreams.unix]
${unix.toml}

[upstreams.special]
${special.toml}
read_timeout_secs = 1

[upstreams.refused]
host = "127.0.0.1"
port = 1

[[routes]]
path_prefix = "/unix"
upstream = "unix"

[[routes]]
path_prefix = "/special"
upstream = "special"
strip_prefix = true

[[routes]]
path_prefix = "/refused"
upstream = "refused"

[[routes]]
path_prefix = "/old-api"
upstream = "tcp"
rewrite = "/new-api"
add_headers = [{ name = "X-Backend", value = "tcp" }, { name = "X-Forwarded-Prefix", value = "/old-api" }]

[[routes]]
path_prefix = "/"
upstream = "tcp"

[middleware]
trusted_proxies = ["10.0.0.0/8", "127.0.0.2"]
`);
    wd = await startWarpdrive(config);
  });

  after(async () => {
    await agent.close();
    await wd?.stop();
    await Promise.all([tcp?.close(), unix?.close(), special?.close()]);
  });

  async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const res = await request(`${wd.url}${path}`, { dispatcher: agent, headers });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  test('a GET reaches a TCP upstream with path and query intact', async () => {
    const res = await get('/some/path?b=2&a=1&empty=&enc=%20x');
    assert.equal(res.status, 200);
    const echo = JSON.parse(res.text) as Echo;
    assert.equal(echo.name, 'tcp');
    assert.equal(echo.url, '/some/path?b=2&a=1&empty=&enc=%20x');
  });

  test('a GET reaches a Unix-socket upstream', async () => {
    const echo = JSON.parse((await get('/unix/x?y=1')).text) as Echo;
    assert.equal(echo.name, 'unix');
    assert.equal(echo.url, '/unix/x?y=1');
  });

  test('percent-encoded paths are forwarded in normalised form', async () => {
    const echo = JSON.parse((await get('/files/a%20b/%7Euser/%2Fslash')).text) as Echo;
    assert.equal(echo.url, '/files/a%20b/~user/%2Fslash');
    const dotted = JSON.parse((await get('/public/../private/x')).text) as Echo;
    assert.equal(dotted.url, '/private/x');
  });

  test('Host is passed through and X-Forwarded-* are set from an untrusted client', async () => {
    const res = await get('/h', { host: 'shop.example.com:8443', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' });
    const echo = JSON.parse(res.text) as Echo;
    assert.deepEqual(rawValues(echo, 'host'), ['shop.example.com:8443']);
    // The client is not a trusted proxy: its claims are replaced, not appended to.
    assert.deepEqual(rawValues(echo, 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(rawValues(echo, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(rawValues(echo, 'x-forwarded-host'), ['shop.example.com:8443']);
  });

  test('a trusted peer\'s X-Forwarded-For chain is appended to', async () => {
    // Connect from 127.0.0.2, which the config trusts.
    const trustedAgent = new Agent({ localAddress: '127.0.0.2' });
    try {
      const res = await request(`${wd.url}/h`, { dispatcher: trustedAgent, headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' } });
      const echo = (await res.body.json()) as Echo;
      assert.deepEqual(rawValues(echo, 'x-forwarded-for'), ['203.0.113.7, 127.0.0.2']);
      assert.deepEqual(rawValues(echo, 'x-forwarded-proto'), ['https']);
    } finally {
      await trustedAgent.close();
    }
  });

  test('hop-by-hop request headers, and those named in Connection, are not forwarded', async () => {
    // curl, because undici refuses to send hop-by-hop headers such as Keep-Alive itself.
    const { stdout } = await execFileAsync('curl', [
      '-s',
      '-H', 'Connection: keep-alive, x-drop-me',
      '-H', 'X-Drop-Me: secret',
      '-H', 'Keep-Alive: timeout=5',
      '-H', 'TE: trailers',
      '-H', 'Proxy-Connection: keep-alive',
      '-H', 'X-Keep-Me: yes',
      `${wd.url}/hop`,
    ]);
    const echo = JSON.parse(stdout) as Echo;
    for (const name of ['x-drop-me', 'keep-alive', 'te', 'proxy-connection']) assert.deepEqual(rawValues(echo, name), [], name);
    assert.deepEqual(rawValues(echo, 'x-keep-me'), ['yes']);
  });

  test('repeated request headers survive intact and in order', async () => {
    const res = await request(`${wd.url}/rep`, { dispatcher: agent, headers: [ 'x-multi', 'one', 'x-multi', 'two', 'cookie', 'a=1', 'cookie', 'b=2' ] });
    const echo = (await res.body.json()) as Echo;
    assert.deepEqual(rawValues(echo, 'x-multi'), ['one', 'two']);
    assert.deepEqual(rawValues(echo, 'cookie'), ['a=1', 'b=2']);
  });

  test('Set-Cookie repeats survive; hop-by-hop response headers are dropped', async () => {
    const res = await get('/special/cookies');
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
    assert.equal(res.headers['keep-alive'], undefined);
    assert.equal(res.text, 'cookies');
  });

  test('response headers keep the upstream\'s order and name case; framing and date headers are written once, by warpdrive', async () => {
    const exchange = await rawExchange(wd.port, 'GET /special/raw-head HTTP/1.1\r\nHost: t\r\n\r\n');
    const lines = exchange.raw.slice(0, exchange.raw.indexOf('\r\n\r\n')).split('\r\n').slice(1);
    const forwarded = lines.filter((l) => /^(x-multi|set-cookie|etag):/i.test(l));
    assert.deepEqual(forwarded, ['X-Multi: one', 'Set-Cookie: a=1', 'x-multi: two', 'ETag: "e"']);
    assert.equal(lines.filter((l) => /^date:/i.test(l)).length, 1);
    assert.ok(!lines.includes('DaTe: Thu, 01 Jan 1970 00:00:00 GMT'), 'the upstream\'s Date is replaced');
    assert.equal(lines.filter((l) => /^content-length:/i.test(l)).length, 1);
    assert.equal(lines.filter((l) => /^keep-alive:/i.test(l)).length, 0);
    assert.equal(exchange.responses[0]?.body, 'head');
  });

  test('the status line carries the upstream\'s reason phrase', async () => {
    const { stdout } = await execFileAsync('curl', ['-si', `${wd.url}/special/reason`]);
    assert.match(stdout, /^HTTP\/1\.1 299 Totally Fine\r\n/);
  });

  test('strip_prefix, rewrite and add_headers shape the upstream request', async () => {
    const stripped = JSON.parse((await get('/special/jobs?page=2')).text) as Echo;
    assert.equal(stripped.url, '/jobs?page=2');
    const rewritten = JSON.parse((await get('/old-api/users/7', { 'x-backend': 'forged' })).text) as Echo;
    assert.equal(rewritten.url, '/new-api/users/7');
    assert.deepEqual(rawValues(rewritten, 'x-backend'), ['tcp']);
    assert.deepEqual(rawValues(rewritten, 'x-forwarded-prefix'), ['/old-api']);
  });

  test('HEAD gets headers and no body', async () => {
    const { stdout } = await execFileAsync('curl', ['-sI', `${wd.url}/head-me`]);
    assert.match(stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(stdout, /content-length: \d+/i);
    const res = await request(`${wd.url}/head-me`, { method: 'HEAD', dispatcher: agent });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), '');
  });

  test('204 and 304 responses have no body and keep the connection usable', async () => {
    for (const status of [204, 304]) {
      const res = await get(`/special/status/${status}`);
      assert.equal(res.status, status);
      assert.equal(res.text, '');
      assert.equal(res.headers.etag, '"v1"');
    }
    assert.equal((await get('/after-304')).status, 200);
  });

  test('chunked upstream responses reach the client whole', async () => {
    const res = await get('/special/chunked');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'part one, part two');
  });

  test('server-sent events stream through as the upstream writes them', async () => {
    const res = await request(`${wd.url}/special/sse`, { dispatcher: agent });
    assert.equal(res.headers['content-type'], 'text/event-stream');
    let received = '';
    for await (const chunk of res.body) {
      received += chunk.toString();
      // The third event arrives while the upstream is still pausing before 'done':
      // a buffering proxy would hold it back until the end.
      if (received.includes('event 2')) {
        assert.ok(!received.includes('done'), 'events arrived as they were written');
        break;
      }
    }
    res.body.destroy();
    assert.match(received, /data: event 0\n\ndata: event 1\n\ndata: event 2\n\n/);
  });

  test('a request body is streamed to the upstream (Content-Length and chunked)', async () => {
    const fixed = await request(`${wd.url}/upload`, { method: 'POST', body: Buffer.alloc(100_000, 1), dispatcher: agent });
    assert.equal(((await fixed.body.json()) as Echo).bodyBytes, 100_000);
    async function* chunks() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(10_000, 2);
    }
    const chunked = await request(`${wd.url}/upload`, { method: 'POST', body: Readable.from(chunks()), dispatcher: agent });
    const echo = (await chunked.body.json()) as Echo;
    assert.equal(echo.bodyBytes, 100_000);
    assert.deepEqual(rawValues(echo, 'transfer-encoding'), ['chunked']);
  });

  test('Expect: 100-continue is answered and the body goes through', async () => {
    const { stdout } = await execFileAsync('curl', ['-si', '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(2048), `${wd.url}/expect`]);
    assert.match(stdout, /HTTP\/1\.1 100 Continue/);
    assert.match(stdout, /"bodyBytes":2048/);
  });

  test('a refused upstream connection gives 502 with a short body', async () => {
    const res = await get('/refused/x');
    assert.equal(res.status, 502);
    assert.equal(res.text, 'Bad Gateway\n');
    assert.equal((await get('/still-serving')).status, 200);
  });

  test('an upstream that resets the connection gives 502', async () => {
    const res = await get('/special/reset');
    assert.equal(res.status, 502);
  });

  test('an upstream that never answers gives 504 at the read timeout', async () => {
    const res = await get('/special/hang');
    assert.equal(res.status, 504);
    assert.equal(res.text, 'Gateway Timeout\n');
    assert.equal((await get('/still-serving')).status, 200);
  });

  test('a client that goes away cancels the upstream request', async () => {
    const socket = net.connect(wd.port, '127.0.0.1');
    await once(socket, 'connect');
    const arrived = once(hang, 'arrived');
    socket.write('GET /special/hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await arrived;
    const closed = once(hang, 'closed');
    socket.destroy();
    // Resolves only if warpdrive cancels the upstream request; the read timeout (1 s)
    // would also close it, so check that it happened well before that.
    const started = Date.now();
    await closed;
    assert.ok(Date.now() - started < 900, 'cancelled by the client leaving, not by the read timeout');
  });

  test('a path that cannot be normalised safely gets 400 and is not forwarded', async () => {
    const res = await get('/a/%zz');
    assert.equal(res.status, 400);
  });
});
