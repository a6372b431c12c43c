/**
 * CPU cost per KiB and ratio of gzip and brotli at each level, on dynamic-content
 * bodies (bench/lib/sample-bodies.ts), with the parameters warpdrive's
 * CompressingWriter uses (brotli: text mode, 1 MiB window). Single-threaded, in
 * process: the figure is the compressor's own cost, which is what a level adds to a
 * response wherever it runs.
 *
 * Run: `node dist/bench/compression-levels.js [--size-kib 100] [--rounds 200]`
 *
 * @module
 */
import zlib from 'node:zlib';
import { sampleHtml, sampleJson } from './lib/sample-bodies.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
}

const sizeKib = option('--size-kib', 100);
const rounds = option('--rounds', 200);

/**
 * The cheapest of ten batches: on a shared machine other processes only ever add
 * time, so the minimum is the closest to the compressor's own cost.
 */
function measure(body: Buffer, compress: (b: Buffer) => Buffer): { usPerKib: number; ratio: number } {
  let out = compress(body); // warm up
  const batch = Math.max(1, Math.round(rounds / 10));
  let best = Infinity;
  for (let b = 0; b < 10; b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < batch; i++) out = compress(body);
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / batch);
  }
  return { usPerKib: best / (body.length / 1024), ratio: body.length / out.length };
}

const brotli = (quality: number) => (b: Buffer) =>
  zlib.brotliCompressSync(b, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_LGWIN]: 20,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
    },
  });
const gzip = (level: number) => (b: Buffer) => zlib.gzipSync(b, { level });

const bodies = [
  ['JSON', sampleJson(sizeKib * 1024)],
  ['HTML', sampleHtml(sizeKib * 1024)],
] as const;

console.log(`${sizeKib} KiB bodies, ${rounds} rounds each (best of 10 batches), Node ${process.version}`);
console.log('| codec | level | JSON µs/KiB | JSON ratio | HTML µs/KiB | HTML ratio |');
console.log('|---|---|---|---|---|---|');
const rows: [string, number, (b: Buffer) => Buffer][] = [
  ...[1, 3, 4, 5, 6, 9].map((level) => ['gzip', level, gzip(level)] as [string, number, (b: Buffer) => Buffer]),
  ...[0, 1, 2, 3, 4, 5, 6, 11].map((q) => ['br', q, brotli(q)] as [string, number, (b: Buffer) => Buffer]),
];
for (const [codec, level, compress] of rows) {
  const cells = bodies.map(([, body]) => measure(body, compress));
  console.log(`| ${codec} | ${level} | ${cells.map((c) => `${c.usPerKib.toFixed(2)} | ${c.ratio.toFixed(2)}`).join(' | ')} |`);
}

/**
 * What CompressingWriter's flush after a quiet turn costs in size: 1 MiB of JSON
 * fed in pieces of the given size, flushed after each piece, against no flush.
 */
async function flushedSize(make: () => zlib.Gzip | zlib.BrotliCompress, flushKind: number | undefined, body: Buffer, piece: number): Promise<number> {
  return new Promise((resolve) => {
    const stream = make();
    let size = 0;
    stream.on('data', (chunk: Buffer) => (size += chunk.length));
    stream.on('end', () => resolve(size));
    for (let offset = 0; offset < body.length; offset += piece) {
      stream.write(body.subarray(offset, offset + piece));
      if (flushKind !== undefined) stream.flush(flushKind);
    }
    stream.end();
  });
}

const megabyte = sampleJson(1024 * 1024);
const makeGzip = () => zlib.createGzip({ level: 5 });
const makeBrotli = () =>
  zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT, [zlib.constants.BROTLI_PARAM_LGWIN]: 20 } });
console.log('\nFlushing after every piece of 1 MiB JSON (gzip 5, br 4): output size against no flush');
console.log('| piece | gzip | br |');
console.log('|---|---|---|');
for (const piece of [4096, 16384, 65536]) {
  const cells: string[] = [];
  for (const [make, kind] of [
    [makeGzip, zlib.constants.Z_SYNC_FLUSH],
    [makeBrotli, zlib.constants.BROTLI_OPERATION_FLUSH],
  ] as const) {
    const plain = await flushedSize(make, undefined, megabyte, piece);
    const flushed = await flushedSize(make, kind, megabyte, piece);
    cells.push(`+${(((flushed - plain) / plain) * 100).toFixed(1)} %`);
  }
  console.log(`| ${piece / 1024} KiB | ${cells.join(' | ')} |`);
}
