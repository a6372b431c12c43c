/**
 * Interim (1xx) responses an upstream sends without being asked, through the real
 * CLI: a raw upstream writes `100 Continue` before every final response (RFC 9110
 * 15.2 requires a client to ignore it). The client must get the final response,
 * the upstream connection must stay in use, and nothing may count against the
 * instances.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { parseResponses, rawExchange } from '../helpers/raw-http.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { ejectablePoolConfig } from '../helpers/pool-config.js';
import { startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 30_000 };
const continueThenOk = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal';

describe('an upstream that sends 100 Continue before every answer', bounded, () => {
  let one: RawUpstream;
  let two: RawUpstream;
  let wd: RunningWarpdrive;

  before(async () => {
    one = await startRawUpstream(() => ({ bytes: continueThenOk }));
    two = await startRawUpstream(() => ({ bytes: continueThenOk }));
    wd = await startWarpdrive(
      writeConfig(ejectablePoolConfig([one.port, two.port])),
    );
  });
  after(async () => {
    await wd?.stop();
    await one?.close();
    await two?.close();
  });

  test('every request gets the final 200; no instance is charged or ejected; connections are reused', bounded, async () => {
    for (let i = 0; i < 8; i++) {
      const response = await request(`${wd.url}/item/${i}`, i % 2 === 0 ? {} : { method: 'POST', body: 'payload' });
      assert.equal(response.statusCode, 200, wd.output());
      assert.equal(await response.body.text(), 'final');
    }
    assert.equal(one.requests.length + two.requests.length, 8, 'one upstream request per client request: nothing retried');
    assert.ok(one.requests.length > 0 && two.requests.length > 0, 'both instances served');
    assert.equal(one.raw.length + two.raw.length, 2, 'one keep-alive connection per instance');
    assert.doesNotMatch(wd.output(), /ejected|bad response/);
  });

  test('the client sees only the final response (the interim one is dropped)', bounded, async () => {
    const exchange = await rawExchange(wd.port, 'GET /raw HTTP/1.1\r\nHost: x\r\n\r\n');
    const responses = parseResponses(exchange.raw).responses;
    assert.deepEqual(responses.map((r) => r.status), [200], exchange.raw);
    assert.equal(responses[0]!.body, 'final');
  });
});
