/**
 * Mutation fuzzing through the real CLI: valid requests (GETs, uploads with
 * Content-Length and chunked, WebSocket upgrades, big cookies) are mutated at
 * random (bytes flipped, inserted, deleted, lines repeated or dropped, numbers
 * changed, CR/LF/space/colon injected, split into several writes) and sent over
 * raw sockets, sixteen at a time, for about 25 seconds, while a well-behaved
 * client keeps making requests. Asserted throughout and at the end:
 *
 * - no crash: the warpdrive process stays up, and stops with exit 0;
 * - no hang: every fuzzed exchange ends by its deadline (warpdrive answers, closes,
 *   or uWS holds the connection, which the client then drops), the normal client
 *   gets each answer within 2 s, and SIGTERM stops warpdrive in time;
 * - every request reaching an upstream is strictly parseable: the upstreams are
 *   node:http (llhttp, strict mode) and record every parse error;
 * - no upstream instance is charged for client input: passive ejection is on with
 *   max_fails = 3 over two instances, and the log never says "ejected";
 * - the normal client is served throughout (only 200s).
 *
 * Seeded: FUZZ_SEED=<n> replays a run; the seed is printed with every failure.
 * FUZZ_SECONDS changes the duration (default 25).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { isAlive } from '../helpers/proc.js';
import { ejectablePoolConfig } from '../helpers/pool-config.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const fuzzMs = Number(process.env.FUZZ_SECONDS ?? 25) * 1000;
const CONCURRENCY = 16;
/** A fuzzed exchange that has neither an answer nor a close by then is one uWS holds: dropped by the client. */
const EXCHANGE_DEADLINE_MS = 300;

/** mulberry32: a small seeded PRNG, so that a seed replays the same run. */
function prng(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const corpus: readonly string[] = [
  'GET /fuzz/a?x=1&y=%20z HTTP/1.1\r\nHost: fuzz.local\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n',
  'GET /fuzz/cookie HTTP/1.1\r\nHost: fuzz.local\r\nCookie: a=1; b=2; session=' + 'k'.repeat(600) + '\r\nAccept-Language: en\r\n\r\n',
  'POST /fuzz/form HTTP/1.1\r\nHost: fuzz.local\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nhello=world',
  'POST /fuzz/chunked HTTP/1.1\r\nHost: fuzz.local\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  'PUT /fuzz/put HTTP/1.1\r\nHost: fuzz.local\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody',
  'GET /fuzz/ws HTTP/1.1\r\nHost: fuzz.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'DELETE /fuzz/x/../y/%2e%2e/z HTTP/1.1\r\nHost: fuzz.local:8080\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n',
  'GET /fuzz/pipelined HTTP/1.1\r\nHost: fuzz.local\r\n\r\nGET /fuzz/second HTTP/1.1\r\nHost: fuzz.local\r\n\r\n',
  'OPTIONS /fuzz/opt HTTP/1.1\r\nHost: fuzz.local\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
];

/** Bytes an attacker likes: separators, controls, digits, high bytes. */
const interesting = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x25, 0x2c, 0x2d, 0x30, 0x31, 0x39, 0x3a, 0x3b, 0x7f, 0x80, 0xc3, 0xff];

function mutate(random: () => number, input: Buffer): Buffer {
  let bytes = Buffer.from(input);
  const int = (n: number): number => Math.floor(random() * n);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = int(bytes.length + 1);
    switch (int(9)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)]! ^= 1 << int(8);
        break;
      case 1: // insert an interesting byte
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([interesting[int(interesting.length)]!]), bytes.subarray(at)]);
        break;
      case 2: // delete a range
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + int(8))]);
        break;
      case 3: {
        // repeat a line (duplicate headers)
        const text = bytes.toString('latin1');
        const lines = text.split('\r\n');
        const i = int(lines.length);
        lines.splice(i, 0, lines[i] ?? '');
        bytes = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 4: {
        // change a number (Content-Length, chunk sizes)
        const text = bytes.toString('latin1');
        const numbers = [...text.matchAll(/\d+/g)];
        if (numbers.length > 0) {
          const m = numbers[int(numbers.length)]!;
          const replacement = ['0', '-1', '99999999999', String(Number(m[0]) + 1), ' ' + m[0], m[0] + ' ', '0x' + m[0]][int(7)]!;
          bytes = Buffer.from(text.slice(0, m.index) + replacement + text.slice(m.index! + m[0].length), 'latin1');
        }
        break;
      }
      case 5: // inject a line ending or separator
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(['\r\n', '\n', '\r', ' ', ':', '\r\n\r\n', '\t'][int(7)]!, 'latin1'), bytes.subarray(at)]);
        break;
      case 6: // truncate
        bytes = bytes.subarray(0, at);
        break;
      case 7: {
        // a header from another corpus entry, or a smuggling classic
        const extra = ['Transfer-Encoding: chunked', 'Content-Length: 5', 'Transfer-Encoding: gzip, chunked', ': y', 'Host: other.local', 'X-Admin-Token: a', 'Connection: close, x-forwarded-for'][int(7)]!;
        const text = bytes.toString('latin1');
        const lineEnd = text.indexOf('\r\n');
        if (lineEnd > 0) bytes = Buffer.from(text.slice(0, lineEnd + 2) + extra + '\r\n' + text.slice(lineEnd + 2), 'latin1');
        break;
      }
      default: // append another request (pipelining)
        bytes = Buffer.concat([bytes, Buffer.from(corpus[int(corpus.length)]!, 'latin1')]);
        break;
    }
  }
  return bytes;
}

/** Writes `bytes` in one to three pieces, reads until an answer, a close, or the deadline. */
async function fuzzOnce(port: number, random: () => number, bytes: Buffer): Promise<'answered' | 'closed' | 'held'> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  const ended = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')));
  await Promise.race([once(socket, 'connect'), ended]);
  const pieces = 1 + Math.floor(random() * 3);
  let at = 0;
  for (let i = 0; i < pieces && !socket.destroyed; i++) {
    const end = i === pieces - 1 ? bytes.length : at + Math.floor(random() * (bytes.length - at));
    socket.write(bytes.subarray(at, end));
    at = end;
    if (i < pieces - 1) await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 20)));
  }
  const outcome = await Promise.race([ended, new Promise<'held'>((resolve) => setTimeout(resolve, EXCHANGE_DEADLINE_MS, 'held'))]);
  socket.destroy();
  return outcome === 'held' && received > 0 ? 'answered' : outcome;
}

/** A strict upstream: node:http, every parse error and every request recorded. */
async function strictUpstream(name: string): Promise<{ server: http.Server; port: number; parseErrors: string[]; requests: number }> {
  const state = { parseErrors: [] as string[], requests: 0 };
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => res.end(name));
    req.on('error', () => {});
  });
  server.on('clientError', (error: Error & { code?: string }, socket: net.Socket) => {
    // A connection warpdrive closed mid-request is not a parse error.
    if (error.code !== 'ECONNRESET' && error.code !== 'HPE_INVALID_EOF_STATE') state.parseErrors.push(`${error.code ?? ''} ${error.message}`);
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(state, { server, port: (server.address() as AddressInfo).port });
}

describe(`mutation fuzzing (seed ${seed})`, { timeout: fuzzMs + 60_000 }, () => {
  let one: Awaited<ReturnType<typeof strictUpstream>>;
  let two: Awaited<ReturnType<typeof strictUpstream>>;
  let wd: RunningWarpdrive;

  before(async () => {
    one = await strictUpstream('one');
    two = await strictUpstream('two');
    wd = await startWarpdrive(
      writeConfig(
        ejectablePoolConfig([one.port, two.port], {
          server: 'max_body_bytes = 65536\nshutdown_timeout_secs = 2',
          middleware: 'admin_token = "fuzz-token"',
          routes: '[[routes]]\npath_prefix = "/fuzz/admin"\nupstream = "pool"\nrequire_auth = true\n',
        }),
      ),
    );
  });
  after(async () => {
    if (wd !== undefined && isAlive(wd.child.pid!)) await wd.stop('SIGKILL');
    for (const upstream of [one, two]) {
      upstream?.server.closeAllConnections();
      upstream?.server.close();
    }
  });

  test('no crash, no hang, only strictly parseable requests upstream, no ejection, a normal client served throughout', async (t) => {
    const context = (): string => `seed ${seed} (replay with FUZZ_SEED=${seed})`;
    t.diagnostic(context());
    const deadline = Date.now() + fuzzMs;
    const outcomes = { answered: 0, closed: 0, held: 0 };
    const normalFailures: string[] = [];
    let normalRequests = 0;

    // The well-behaved client, one request at a time on its own connection pool.
    const agent = new Agent({ connections: 2 });
    const normal = (async () => {
      while (Date.now() < deadline) {
        const started = Date.now();
        try {
          const response = await request(`${wd.url}/normal/${normalRequests}`, { dispatcher: agent, headersTimeout: 2_000, bodyTimeout: 2_000 });
          await response.body.text();
          if (response.statusCode !== 200) normalFailures.push(`status ${response.statusCode}`);
          else if (Date.now() - started > 2_000) normalFailures.push(`answered after ${Date.now() - started} ms`);
        } catch (error) {
          normalFailures.push(String(error));
        }
        normalRequests++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // One generator per connection slot, so that a seed replays each slot's sequence of inputs.
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, slot) => {
        const random = prng(seed + slot * 7919);
        while (Date.now() < deadline) {
          const base = Buffer.from(corpus[Math.floor(random() * corpus.length)]!, 'latin1');
          outcomes[await fuzzOnce(wd.port, random, mutate(random, base))]++;
          assert.ok(isAlive(wd.child.pid!), `warpdrive died: ${context()}\n${wd.output()}`);
        }
      }),
    );
    await normal;
    await agent.close();
    const total = outcomes.answered + outcomes.closed + outcomes.held;
    t.diagnostic(`${total} fuzzed connections (answered ${outcomes.answered}, closed ${outcomes.closed}, held by uWS ${outcomes.held}); ${normalRequests} normal requests; upstream requests ${one.requests + two.requests}`);

    assert.deepEqual(normalFailures, [], `the normal client was not served: ${context()}`);
    assert.ok(normalRequests > 10, `the normal client made ${normalRequests} requests: ${context()}`);
    assert.deepEqual([...one.parseErrors, ...two.parseErrors], [], `an upstream could not parse what warpdrive sent: ${context()}`);
    assert.doesNotMatch(wd.output(), /ejected|half-open/, `client input charged an instance: ${context()}`);
    assert.doesNotMatch(wd.output(), /uncaught|TypeError|RangeError|ReferenceError/i, `an error escaped: ${context()}`);
    const stoppedBy = Date.now() + 10_000;
    assert.equal(await wd.stop('SIGTERM'), 0, `exit code after SIGTERM: ${context()}\n${wd.output()}`);
    assert.ok(Date.now() < stoppedBy, `stopping took more than 10 s: ${context()}`);
  });
});
