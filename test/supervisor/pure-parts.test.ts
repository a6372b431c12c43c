/**
 * The supervisor's pure parts: backoff and crash-loop bookkeeping, line
 * splitting of child output, /proc stat parsing, wire errors.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashTracker } from '../../src/supervisor/restart-policy.js';
import { LineSplitter } from '../../src/supervisor/line-splitter.js';
import { parseProcStat } from '../../src/supervisor/process-group.js';
import { toWireError } from '../../src/supervisor/protocol.js';

const policy = { baseDelayMs: 100, maxDelayMs: 1_000, stableAfterMs: 10_000, maxCrashes: 5, crashWindowMs: 60_000 };

test('backoff doubles per crash within [step/2, step], capped at maxDelayMs', () => {
  const tracker = new CrashTracker({ ...policy, maxCrashes: 100 });
  const low: number[] = [];
  const high: number[] = [];
  const highTracker = new CrashTracker({ ...policy, maxCrashes: 100 });
  for (let i = 0; i < 6; i++) {
    const a = tracker.recordCrash(i, 0);
    const b = highTracker.recordCrash(i, 0.999999);
    assert.equal(a.action, 'restart');
    assert.equal(b.action, 'restart');
    if (a.action === 'restart' && b.action === 'restart') {
      low.push(a.delayMs);
      high.push(b.delayMs);
      assert.equal(a.attempt, i + 1);
    }
  }
  assert.deepEqual(low, [50, 100, 200, 400, 500, 500]);
  assert.deepEqual(high, [100, 200, 400, 800, 1_000, 1_000]);
});

test('a stable run resets the backoff; a short run does not', () => {
  const tracker = new CrashTracker(policy);
  tracker.recordCrash(0, 0);
  tracker.markReady(1_000);
  const short = tracker.recordCrash(2_000, 0);
  assert.deepEqual(short, { action: 'restart', delayMs: 100, attempt: 2 });
  tracker.markReady(3_000);
  const afterStable = tracker.recordCrash(3_000 + policy.stableAfterMs, 0);
  assert.deepEqual(afterStable, { action: 'restart', delayMs: 50, attempt: 1 });
});

test('maxCrashes within the window gives up; crashes older than the window do not count', () => {
  const tracker = new CrashTracker({ ...policy, maxCrashes: 3, crashWindowMs: 1_000 });
  assert.equal(tracker.recordCrash(0, 0).action, 'restart');
  assert.equal(tracker.recordCrash(100, 0).action, 'restart');
  assert.equal(tracker.recordCrash(1_500, 0).action, 'restart'); // the crashes at 0 and 100 left the window
  assert.equal(tracker.recordCrash(1_600, 0).action, 'restart');
  assert.deepEqual(tracker.recordCrash(1_700, 0), { action: 'give-up', crashes: 3, windowMs: 1_000 });
});

test('output is split into whole lines whatever the chunking', () => {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l));
  for (const chunk of ['hel', 'lo\nwor', 'ld\r\n', '\n', 'a\nb\nc', 'ontinued']) splitter.push(Buffer.from(chunk));
  assert.deepEqual(lines, ['hello', 'world', '', 'a', 'b']);
  splitter.end();
  assert.deepEqual(lines, ['hello', 'world', '', 'a', 'b', 'continued']);
  // Multi-byte characters split across chunks survive.
  const utf: string[] = [];
  const utfSplitter = new LineSplitter((l) => utf.push(l));
  const bytes = Buffer.from('grüße\n');
  utfSplitter.push(bytes.subarray(0, 3));
  utfSplitter.push(bytes.subarray(3));
  assert.deepEqual(utf, ['grüße']);
});

test('an endless line is emitted in bounded pieces, never buffered without limit', () => {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l), 10);
  for (let i = 0; i < 5; i++) splitter.push(Buffer.from('abcdefg'));
  assert.deepEqual(lines, ['abcdefgabc [line continues]', 'defgabcdef [line continues]', 'gabcdefgab [line continues]']);
  splitter.push(Buffer.from('cdefg\n'));
  assert.equal(lines.at(-1), 'cdefgcdefg'); // exactly the limit, and complete
  splitter.push(Buffer.from('x'.repeat(25) + '\n'));
  assert.equal(lines.at(-1), 'xxxxxxxxxx [line cut at 10 bytes]');
});

test('/proc stat parsing copes with spaces and parentheses in process names', () => {
  assert.deepEqual(parseProcStat('1234 (node) S 1 1200 1200 0 -1'), { pid: 1234, pgid: 1200, state: 'S' });
  assert.deepEqual(parseProcStat('77 (my (odd) name) Z 5 70 70 0'), { pid: 77, pgid: 70, state: 'Z' });
  assert.equal(parseProcStat('garbage'), undefined);
});

test('errors cross the thread boundary as { code, message }', () => {
  const error = Object.assign(new Error('nope'), { code: 'WD_ERR_X' });
  assert.deepEqual(toWireError(error), { code: 'WD_ERR_X', message: 'nope' });
  assert.deepEqual(toWireError('plain'), { code: 'WD_ERR_SUPERVISOR', message: 'plain' });
  assert.deepEqual(structuredClone(toWireError(new TypeError('t'))), { code: 'WD_ERR_SUPERVISOR', message: 't' });
});
