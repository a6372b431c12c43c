/**
 * Streaming real files into a BodyWriter: whole files, ranges and multipart
 * framing arrive intact; a stalled client stops the reads; abort and errors close
 * the descriptor exactly once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fstatSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_BYTES, FileBodySource, FileShrankError } from '../../src/files/file-body-source.js';
import { CollectingWriter } from '../helpers/collecting-writer.js';

let dir: string;
let bigPath: string;
let big: Buffer;
let smallPath: string;

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wd-body-'));
  big = randomBytes(3 * CHUNK_BYTES + 12345);
  bigPath = join(dir, 'big.bin');
  writeFileSync(bigPath, big);
  smallPath = join(dir, 'small.txt');
  writeFileSync(smallPath, 'hello, small file\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('FileBodySource', () => {
  test('a large file arrives whole, in chunks of at most CHUNK_BYTES, and the fd is closed', async () => {
    const fd = openSync(bigPath, 'r');
    const sink = new CollectingWriter();
    const source = new FileBodySource(fd, [{ start: 0, end: big.length - 1 }]);
    assert.equal(source.length, big.length);
    source.start(sink);
    await sink.settled();
    assert.equal(sink.ended, true);
    assert.deepEqual(sink.body(), big);
    assert.ok(sink.chunks.every((c) => c.length <= CHUNK_BYTES));
    assert.equal(isOpen(fd), false);
  });

  test('a writer that copies chunks gets one reused buffer; the bytes still arrive whole', async () => {
    const fd = openSync(bigPath, 'r');
    const sink = new CollectingWriter({ copiesChunks: true });
    sink.stalled = true; // the first chunk waits for onDrain, the rest are taken at once
    new FileBodySource(fd, [{ start: 0, end: big.length - 1 }]).start(sink);
    await sink.until(() => sink.chunks.length === 1);
    sink.drain();
    await sink.settled();
    assert.deepEqual(sink.body(), big);
    assert.ok(sink.givenMemory.length >= 4);
    assert.equal(new Set(sink.givenMemory).size, 1, 'every chunk was read into the same memory');
  });

  test('a small file is read in one synchronous call: the body is complete before start returns', () => {
    const fd = openSync(smallPath, 'r');
    const sink = new CollectingWriter();
    new FileBodySource(fd, [{ start: 0, end: 17 }]).start(sink);
    assert.equal(sink.ended, true);
    assert.equal(sink.body().toString(), 'hello, small file\n');
    assert.equal(isOpen(fd), false);
  });

  test('ranges and literal parts in order (multipart framing)', async () => {
    const fd = openSync(bigPath, 'r');
    const sink = new CollectingWriter();
    const a = { start: 10, end: 19 };
    const b = { start: CHUNK_BYTES - 5, end: 2 * CHUNK_BYTES + 100 };
    new FileBodySource(fd, [Buffer.from('<a>'), a, Buffer.from('<b>'), b, Buffer.from('<end>')]).start(sink);
    await sink.settled();
    const expected = Buffer.concat([Buffer.from('<a>'), big.subarray(10, 20), Buffer.from('<b>'), big.subarray(b.start, b.end + 1), Buffer.from('<end>')]);
    assert.deepEqual(sink.body(), expected);
  });

  test('no parts (HEAD): the writer is ended at once and the fd closed', () => {
    const fd = openSync(smallPath, 'r');
    const sink = new CollectingWriter();
    new FileBodySource(fd, []).start(sink);
    assert.equal(sink.ended, true);
    assert.equal(sink.bytes, 0);
    assert.equal(isOpen(fd), false);
  });

  test('a stalled client stops the reads after one chunk; draining resumes them', async () => {
    const fd = openSync(bigPath, 'r');
    const sink = new CollectingWriter();
    sink.stalled = true;
    new FileBodySource(fd, [{ start: 0, end: big.length - 1 }]).start(sink);
    await sink.until(() => sink.chunks.length === 1);
    // Several thread-pool round trips: a source ignoring backpressure would have read on.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(sink.chunks.length, 1);
    assert.equal(sink.writesRefused, 1);
    sink.drain();
    await sink.settled();
    assert.deepEqual(sink.body(), big);
  });

  test('cancel mid-body closes the fd once the read in flight returns, and never touches the writer', async () => {
    const fd = openSync(bigPath, 'r');
    const sink = new CollectingWriter();
    sink.stalled = true;
    const source = new FileBodySource(fd, [{ start: 0, end: big.length - 1 }]);
    source.start(sink);
    await sink.until(() => sink.chunks.length === 1);
    source.cancel();
    source.cancel();
    assert.equal(isOpen(fd), false);
    sink.drain();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sink.ended, false);
    assert.equal(sink.aborted, false);
    assert.equal(sink.chunks.length, 1);
  });

  test('cancel while a read is in flight: closed when it returns', async () => {
    const fd = openSync(bigPath, 'r');
    const sink = new CollectingWriter();
    const source = new FileBodySource(fd, [{ start: 0, end: big.length - 1 }]);
    source.start(sink); // the first read is now in the thread pool
    source.cancel();
    assert.equal(isOpen(fd), true, 'closing under a read in flight would let the fd number be reused by it');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(isOpen(fd), false);
    assert.equal(sink.chunks.length, 0);
  });

  test('a source never started releases its fd on cancel', () => {
    const fd = openSync(smallPath, 'r');
    new FileBodySource(fd, [{ start: 0, end: 5 }]).cancel();
    assert.equal(isOpen(fd), false);
  });

  test('a file that shrinks while it is sent aborts the body (never a short body that looks complete)', async () => {
    const path = join(dir, 'shrinking.bin');
    writeFileSync(path, big);
    const fd = openSync(path, 'r');
    const sink = new CollectingWriter();
    sink.stalled = true;
    const source = new FileBodySource(fd, [{ start: 0, end: big.length - 1 }]);
    source.start(sink);
    await sink.until(() => sink.chunks.length === 1);
    truncateSync(path, CHUNK_BYTES);
    sink.drain();
    await sink.settled();
    assert.equal(sink.aborted, true);
    assert.ok(source.failure instanceof FileShrankError);
    assert.equal(sink.ended, false);
    assert.equal(isOpen(fd), false);
  });
});
