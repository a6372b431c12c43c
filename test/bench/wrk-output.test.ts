import { test } from 'node:test';
import assert from 'node:assert/strict';
import { luaTargets, parseWrkDuration, parseWrkOutput, wrkArgs } from '../../bench/lib/wrk.js';

const TEXT = `Running 3s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   501.40us  100.00us   5.00ms   90.00%
    Req/Sec    98.00k     2.00k  100.00k    70.00%
  Latency Distribution
     50%  485.00us
     75%  520.00us
     90%  600.00us
     99%    1.10ms
  294000 requests in 3.00s, 40.00MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  98000.50
Transfer/sec:     13.33MB
`;

test('wrk durations in every unit become milliseconds', () => {
  assert.equal(parseWrkDuration('485.00us'), 0.485);
  assert.equal(parseWrkDuration('1.10ms'), 1.1);
  assert.equal(parseWrkDuration('2.00s'), 2000);
  assert.equal(parseWrkDuration('1.50m'), 90_000);
  assert.throws(() => parseWrkDuration('fast'), /cannot read wrk duration/);
});

test('the text summary alone gives req/s, p50, p99, errors and no p99.9', () => {
  const r = parseWrkOutput(TEXT);
  assert.equal(r.requestsPerSec, 98000.5);
  assert.equal(r.requests, 294000);
  assert.equal(r.durationSec, 3);
  assert.equal(r.p50Ms, 0.485);
  assert.equal(r.p99Ms, 1.1);
  assert.ok(Number.isNaN(r.p999Ms));
  assert.equal(r.maxMs, 5);
  assert.equal(r.socketErrors, 6);
  assert.equal(r.statusErrors, 5);
});

test('the WRK_RESULT line from report.lua wins for percentiles and errors', () => {
  const line = 'WRK_RESULT {"requests":294000,"durationUs":3000000,"bytes":1,"connectErrors":1,"readErrors":0,"writeErrors":0,"statusErrors":7,"timeouts":2,"p50Us":480,"p90Us":590,"p99Us":1200,"p999Us":2500,"maxUs":5000,"meanUs":501.4}';
  const r = parseWrkOutput(`${TEXT}${line}\n`);
  assert.equal(r.requestsPerSec, 98000.5);
  assert.equal(r.p50Ms, 0.48);
  assert.equal(r.p99Ms, 1.2);
  assert.equal(r.p999Ms, 2.5);
  assert.equal(r.socketErrors, 3);
  assert.equal(r.statusErrors, 7);
});

test('output without any result is an error that shows the output', () => {
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused'), /Connection refused/);
});

test('wrk arguments carry the script, headers and --latency, URL last', () => {
  const args = wrkArgs({ wrkPath: 'wrk', url: 'http://127.0.0.1:1/', scriptFile: 's.lua', durationSec: 3, connections: 50, threads: 1, headers: ['Connection: close'], cpus: undefined, tasksetPath: undefined });
  assert.deepEqual(args, ['-t1', '-c50', '-d3s', '--latency', '--timeout', '10s', '-s', 's.lua', '-H', 'Connection: close', 'http://127.0.0.1:1/']);
});

test('route targets become a Lua table literal with quoted strings', () => {
  assert.equal(luaTargets([{ host: 'h0.bench.test', path: '/svc0/item' }]), 'targets = {\n  {"h0.bench.test", "/svc0/item"},\n}\n');
});
