import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBusySampler, parseCpuLine, parseStatTicks, parseVmRss, processTree, ProcessSampler } from '../../bench/lib/proc-sampler.js';

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

test('a /proc/stat CPU line: idle and iowait are not busy, interrupts and softirq are', () => {
  // user nice system idle iowait irq softirq steal guest guest_nice
  assert.deepEqual(parseCpuLine('cpu1 100 0 50 800 10 5 35 0 0 0'), { busy: 190, total: 1000 });
});

test('the busy share of a CPU this process keeps busy is high, and within 0-100', { skip: process.platform !== 'linux' ? 'needs /proc' : false }, () => {
  const sampler = new CpuBusySampler([0, 1]);
  sampler.start();
  const until = Date.now() + 300;
  let spin = 0;
  while (Date.now() < until) spin++;
  const busy = sampler.stop();
  assert.ok(spin > 0);
  // One of two CPUs spun for the whole window: at least about half of the pair was busy.
  assert.ok(busy >= 40 && busy <= 100, `busy ${busy}%`);
});
