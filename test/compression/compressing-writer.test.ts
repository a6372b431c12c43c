/**
 * The compressing BodyWriter with real zlib: bodies round-trip, backpressure holds
 * in both directions with bounded memory, a slow body is flushed without waiting
 * for its end, and an abort stops everything.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ContentCoding } from '../../src/compression/accept-encoding.js';
import { CompressingWriter, pooledGzipCompressors } from '../../src/compression/compressing-writer.js';
import { CollectingWriter } from '../helpers/collecting-writer.js';

const levels = { gzip: 5, brotli: 4 };

const decoders = {
  gzip: (b: Buffer, partial = false) => zlib.gunzipSync(b, partial ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {}),
  br: (b: Buffer, partial = false) => zlib.brotliDecompressSync(b, partial ? { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH } : {}),
};
const codings = [
  ['gzip', ContentCoding.Gzip],
  ['br', ContentCoding.Brotli],
] as const;

function jsonBody(bytes: number): Buffer {
  const rows: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const row = JSON.stringify({ id: i, name: `customer ${i % 97}`, email: `user${i}@example.com`, total_cents: (i * 7919) % 100000, status: i % 3 ? 'paid' : 'pending' });
    rows.push(row);
    size += row.length + 1;
  }
  return Buffer.from(`[${rows.join(',')}]`).subarray(0, bytes);
}

describe('CompressingWriter', () => {
  for (const [name, coding] of codings) {
    test(`${name}: a 1 MiB body written in 64 KiB chunks decodes to the same bytes, smaller`, async () => {
      const input = jsonBody(1024 * 1024);
      const sink = new CollectingWriter();
      const writer = new CompressingWriter(sink, coding, levels, input.length);
      for (let offset = 0; offset < input.length; offset += 65536) {
        if (!writer.write(input.subarray(offset, offset + 65536))) await new Promise<void>((resolve) => (writer.onDrain = resolve));
      }
      writer.end();
      await sink.settled();
      assert.equal(sink.ended, true);
      assert.ok(sink.bytes < input.length / 4, `compressed to ${sink.bytes}`);
      assert.deepEqual(decoders[name](sink.body()), input);
    });

    test(`${name}: a slow body is flushed after a quiet turn, before it ends`, { timeout: 5000 }, async () => {
      const sink = new CollectingWriter();
      const writer = new CompressingWriter(sink, coding, levels);
      const decoded = () => decoders[name](sink.body(), true).toString();
      // No end and no further input: only the flush can make these bytes appear.
      writer.write(Buffer.from('data: first part of a page\n'));
      await sink.until(() => decoded() === 'data: first part of a page\n');
      writer.write(Buffer.from('second part\n'));
      await sink.until(() => decoded() === 'data: first part of a page\nsecond part\n');
      assert.equal(sink.ended, false);
      writer.end();
      await sink.settled();
      assert.equal(decoders[name](sink.body()).toString(), 'data: first part of a page\nsecond part\n');
    });

    test(`${name}: a client that stops reading stops the source, with bounded memory`, async () => {
      const sink = new CollectingWriter();
      sink.stalled = true;
      const writer = new CompressingWriter(sink, coding, levels);
      // Incompressible input: every input byte becomes an output byte.
      let written = 0;
      let refused = false;
      for (let i = 0; i < 200 && !refused; i++) {
        const chunk = randomBytes(65536);
        written += chunk.length;
        if (!writer.write(chunk)) {
          // Give zlib every chance to go on: if it did not stop, it would keep taking input.
          await new Promise<boolean>((resolve) => {
            writer.onDrain = () => resolve(false);
            setTimeout(() => resolve(true), 200);
          }).then((timedOut) => (refused = timedOut));
        }
      }
      assert.equal(refused, true, 'the writer kept accepting input while the client read nothing');
      assert.ok(written <= 2 * 1024 * 1024, `${written} bytes taken in while the client was stalled`);
      const heldOut = sink.bytes;
      assert.ok(heldOut <= 512 * 1024, `${heldOut} bytes pushed at a stalled client`);
      // The client reads again: everything flows to the end.
      const drained = new Promise<void>((resolve) => (writer.onDrain = resolve));
      sink.drain();
      await drained;
      writer.end();
      await sink.settled();
      assert.equal(decoders[name](sink.body()).length, written);
    });

    test(`${name}: abort tells the next writer once and stops output`, async () => {
      const sink = new CollectingWriter();
      const writer = new CompressingWriter(sink, coding, levels);
      writer.write(jsonBody(200_000));
      writer.abort();
      writer.abort();
      writer.end();
      assert.equal(writer.write(Buffer.from('more')), true);
      await nextTurn();
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(sink.aborted, true);
      assert.equal(sink.ended, false);
    });
  }

  test('gzip streams are reset and reused: body after body decodes, with the level asked for', async () => {
    const levels9 = { gzip: 9, brotli: 4 };
    for (let i = 0; i < 5; i++) {
      const input = jsonBody(50_000 + i * 1000);
      const sink = new CollectingWriter();
      const writer = new CompressingWriter(sink, ContentCoding.Gzip, levels9);
      writer.write(input);
      writer.end();
      await sink.settled();
      assert.deepEqual(zlib.gunzipSync(sink.body()), input);
      assert.deepEqual(sink.body().subarray(10), zlib.gzipSync(input, { level: 9 }).subarray(10), 'the same bytes as a fresh level-9 stream (after the header)');
      assert.equal(pooledGzipCompressors(9), 1, 'one stream, back in the pool after each body');
    }
  });

  test('a body whose end waits for a stalled client completes once it drains; the stream is reused only then', async () => {
    const levels7 = { gzip: 7, brotli: 4 };
    const input = randomBytes(300_000);
    const sink = new CollectingWriter();
    sink.stalled = true;
    const writer = new CompressingWriter(sink, ContentCoding.Gzip, levels7);
    writer.write(input);
    writer.end();
    await sink.until(() => sink.chunks.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sink.ended, false, 'not ended while output waits for the client');
    assert.equal(pooledGzipCompressors(7), 0);
    while (!sink.ended) {
      sink.drain();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(zlib.gunzipSync(sink.body()), input);
    assert.equal(pooledGzipCompressors(7), 1);
  });

  test('an aborted stream is not reused', async () => {
    const levels8 = { gzip: 8, brotli: 4 };
    const sink = new CollectingWriter();
    const writer = new CompressingWriter(sink, ContentCoding.Gzip, levels8);
    writer.write(jsonBody(100_000));
    writer.abort();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pooledGzipCompressors(8), 0);
  });

  test('brotli bodies one after another keep their quality (streams are not reset)', async () => {
    const input = jsonBody(100_000);
    const expected = zlib.brotliCompressSync(input, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT, [zlib.constants.BROTLI_PARAM_LGWIN]: 20, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length },
    });
    for (let i = 0; i < 3; i++) {
      const sink = new CollectingWriter();
      const writer = new CompressingWriter(sink, ContentCoding.Brotli, levels, input.length);
      writer.write(input);
      writer.end();
      await sink.settled();
      assert.deepEqual(sink.body(), expected);
    }
  });

  test('an empty body still makes a valid (empty) stream', async () => {
    for (const [name, coding] of codings) {
      const sink = new CollectingWriter();
      const writer = new CompressingWriter(sink, coding, levels);
      writer.end();
      await sink.settled();
      assert.equal(decoders[name](sink.body()).length, 0);
    }
  });
});
