import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStatTicks, parseVmRss, processTree, ProcessSampler } from '../../bench/lib/proc-sampler.js';

test('utime + stime are read after the last parenthesis, whatever the command name holds', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // field 3 onwards
  fields[14 - 3] = '700';
  fields[15 - 3] = '42';
  const stat = `1234 (we (ird) name) ${fields.join(' ')}`;
  assert.equal(parseStatTicks(stat), 742);
});

test('VmRSS is read in bytes', () => {
  assert.equal(parseVmRss('Name:\tnode\nVmHWM:\t  9000 kB\nVmRSS:\t  2048 kB\n'), 2048 * 1024);
  assert.equal(parseVmRss('Name:\tkthread\n'), 0);
});

test('sampling this very process sees its memory and the CPU it burns', { skip: process.platform !== 'linux' ? 'needs /proc' : false }, () => {
  assert.ok(processTree(process.pid).includes(process.pid));
  const sampler = new ProcessSampler(process.pid, 10);
  sampler.start();
  // Burn CPU for a bounded 300 ms so the tick counters must move.
  const until = performance.now() + 300;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const usage = sampler.stop();
  assert.ok(x > 0);
  assert.ok(usage.peakRssBytes > 10 * 1024 * 1024, `rss ${usage.peakRssBytes}`);
  assert.ok(usage.cpuPercent > 10, `cpu ${usage.cpuPercent}`);
});
