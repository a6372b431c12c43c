import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { bucketMs, bucketOf, completeResponse } from '../../bench/paced-load.js';

test('latencies keep microseconds below 100 ms and milliseconds up to 100 s', () => {
  assert.equal(bucketMs(bucketOf(250)), 0.25);
  assert.equal(bucketMs(bucketOf(99_999)), 99.999);
  assert.equal(bucketMs(bucketOf(2_500_400)), 2500);
  assert.equal(bucketMs(bucketOf(1e12)), 100_099);
});

test('a response is complete only once its whole body has arrived', () => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
  assert.equal(completeResponse(Buffer.from(head + 'hel')), undefined);
  assert.deepEqual(completeResponse(Buffer.from(head + 'hello' + 'HTTP/1.1')), { length: head.length + 5, status: 200, closes: false });
  const closing = 'HTTP/1.1 503 No\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
  assert.deepEqual(completeResponse(Buffer.from(closing)), { length: closing.length, status: 503, closes: true });
  assert.equal(completeResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Len')), undefined);
});

test('the paced client holds its rate against a real server and counts failed statuses', async () => {
  let served = 0;
  const server = http.createServer((req, res) => {
    served++;
    res.statusCode = served % 10 === 0 ? 500 : 200;
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/paced-load.js');
  // 200 req/s for 1 s on 4 connections: bounded and light. Async: the server lives in this process.
  const child = spawn(process.execPath, [script, `http://127.0.0.1:${port}/`, '200', '4', '1'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  server.close();
  assert.equal(code, 0, stderr);
  const result = JSON.parse(/PACED_RESULT (\{.*\})/.exec(stdout)![1]!) as { requests: number; statusErrors: number; socketErrors: number; p50Ms: number; unsent: number };
  assert.ok(result.requests >= 150 && result.requests <= 220, `requests ${result.requests}`);
  assert.equal(result.requests, served);
  assert.equal(result.statusErrors, Math.floor(served / 10));
  assert.equal(result.socketErrors, 0);
  assert.equal(result.unsent, 0);
  assert.ok(result.p50Ms > 0);
});
