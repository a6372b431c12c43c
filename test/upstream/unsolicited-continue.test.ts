/**
 * An upstream's unsolicited `100 Continue` (RFC 9110 15.2: a client must ignore an
 * interim response it did not expect). undici 7 alone destroys the connection on
 * it; src/upstream/unsolicited-continue.ts wraps undici's parser per connection.
 * Real undici Pools against a raw TCP upstream that writes the exact bytes.
 *
 * Both directions of undici change turn a test red here: if undici's internals move
 * (the wrapper finds no parser), the tolerant pool fails; if undici starts ignoring
 * an unsolicited 100 by itself, the plain pool stops failing and the wrapper can go.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, request } from 'undici';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { continueTolerance, continueTolerantConnector } from '../../src/upstream/unsolicited-continue.js';

const answers: Record<string, string> = {
  '/continue': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal',
  '/continue-with-headers': 'HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 5\r\n\r\nfinal',
  '/continue-twice-then-hints': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal',
  '/continue-chunked': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfinal\r\n0\r\n\r\n',
  '/continue-204': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  '/plain': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain',
};

describe('an unsolicited 100 Continue from an upstream', () => {
  let upstream: RawUpstream;
  let tolerant: Pool;
  let plain: Pool;

  before(async () => {
    upstream = await startRawUpstream((target) => ({ bytes: answers[target] ?? answers['/plain']! }));
    const origin = `http://127.0.0.1:${upstream.port}`;
    tolerant = new Pool(origin, { connections: 1, connect: continueTolerantConnector({ timeout: 5_000 }) });
    plain = new Pool(origin, { connections: 1 });
  });
  after(async () => {
    await tolerant?.close();
    await plain?.close();
    await upstream?.close();
  });

  test('is skipped: the final response arrives, on a connection that stays in use', async () => {
    const connectionsBefore = upstream.raw.length;
    for (const path of ['/continue', '/continue-with-headers', '/continue-twice-then-hints', '/continue-chunked', '/plain', '/continue']) {
      const response = await request(`http://127.0.0.1:${upstream.port}${path}`, { dispatcher: tolerant });
      assert.equal(response.statusCode, 200, path);
      assert.equal(await response.body.text(), path === '/plain' ? 'plain' : 'final', path);
      if (path === '/continue-with-headers') {
        assert.equal(response.headers['x-final'], 'yes');
        assert.equal(response.headers['x-interim'], undefined, 'the interim response\'s headers are not the final ones');
      }
    }
    const noContent = await request(`http://127.0.0.1:${upstream.port}/continue-204`, { dispatcher: tolerant });
    assert.equal(noContent.statusCode, 204);
    await noContent.body.dump();
    assert.equal(upstream.raw.length - connectionsBefore, 1, 'every request went over the one keep-alive connection');
    assert.ok(continueTolerance.attached >= 1);
    assert.equal(continueTolerance.missed, 0, "undici's parser was found on every connection");
  });

  test('undici alone still destroys the connection on it (if this fails, undici handles it now: remove the wrapper)', async () => {
    await assert.rejects(
      request(`http://127.0.0.1:${upstream.port}/continue`, { dispatcher: plain }).then((r) => r.body.text()),
      (error: Error & { code?: string }) => error.code === 'UND_ERR_SOCKET' && /bad response/.test(error.message),
    );
  });
});
