/**
 * WebSocket echo load: N connections, each sending a small message and waiting
 * for its echo before sending the next (closed loop), for a fixed time. wrk has
 * no WebSocket support, so this small client (undici's WebSocket) does it; being
 * a Node.js client it may cap the figures, which the report says.
 *
 * Run: `node dist/bench/ws-echo-load.js URL CONNECTIONS DURATION_SEC`; prints
 * `WS_RESULT {json}` in the same shape as the wrk and autocannon results.
 * `--probe` instead does one round trip and exits 0 (echoed) or 1 (with why).
 *
 * @module
 */
import { WebSocket } from 'undici';

const MESSAGE = 'x'.repeat(64);
/** Latency histogram: one bucket per microsecond up to 1 s; slower goes to the last bucket. */
const BUCKETS = 1_000_000;

function percentile(histogram: Uint32Array, total: number, p: number): number {
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let us = 0; us < histogram.length; us++) {
    seen += histogram[us]!;
    if (seen >= rank) return us / 1000;
  }
  return NaN;
}

async function probe(url: string): Promise<void> {
  const ws = new WebSocket(url);
  const timer = setTimeout(() => {
    process.stderr.write(`no echo from ${url} within 3 s\n`);
    process.exit(1);
  }, 3_000);
  ws.addEventListener('error', (event) => {
    // undici's ErrorEvent often has an empty message; its `error` says more.
    const detail = event as { message?: string; error?: { message?: string; cause?: { message?: string } } };
    const why = detail.error?.cause?.message || detail.error?.message || detail.message || 'the upgrade was refused (no 101 response)';
    process.stderr.write(`WebSocket to ${url} failed: ${why}\n`);
    process.exit(1);
  });
  ws.addEventListener('open', () => ws.send('probe'));
  ws.addEventListener('message', (event) => {
    clearTimeout(timer);
    if (event.data !== 'probe') {
      process.stderr.write(`WebSocket echo from ${url} came back as ${String(event.data)}\n`);
      process.exit(1);
    }
    ws.close();
    process.exit(0);
  });
}

async function load(url: string, connections: number, durationSec: number): Promise<void> {
  const histogram = new Uint32Array(BUCKETS);
  let total = 0;
  let errors = 0;
  let maxUs = 0;
  let deadline = Infinity;
  const sockets: WebSocket[] = [];

  await Promise.all(
    Array.from({ length: connections }, () => new Promise<void>((resolve) => {
      const ws = new WebSocket(url);
      sockets.push(ws);
      let sentAt = 0;
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => {
        errors++;
        resolve();
      });
      ws.addEventListener('message', () => {
        const us = Math.round((performance.now() - sentAt) * 1000);
        histogram[us < BUCKETS ? us : BUCKETS - 1]!++;
        if (us > maxUs) maxUs = us;
        total++;
        if (performance.now() < deadline) {
          sentAt = performance.now();
          ws.send(MESSAGE);
        }
      });
      // Started by the kick-off below once every socket is open.
      (ws as WebSocket & { kick?: () => void }).kick = () => {
        sentAt = performance.now();
        ws.send(MESSAGE);
      };
    })),
  );
  const started = performance.now();
  deadline = started + durationSec * 1000;
  for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) (ws as WebSocket & { kick: () => void }).kick();
  await new Promise((resolve) => setTimeout(resolve, durationSec * 1000 + 200));
  const elapsedSec = (performance.now() - started) / 1000;
  for (const ws of sockets) ws.close();
  const result = {
    requests: total,
    durationSec: elapsedSec,
    requestsPerSec: total / elapsedSec,
    p50Ms: percentile(histogram, total, 50),
    p99Ms: percentile(histogram, total, 99),
    p999Ms: percentile(histogram, total, 99.9),
    maxMs: maxUs / 1000,
    socketErrors: errors,
    statusErrors: 0,
  };
  process.stdout.write(`WS_RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

const [url, connections, duration] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: ws-echo-load.js URL CONNECTIONS DURATION_SEC | ws-echo-load.js URL --probe\n');
  process.exit(2);
}
if (connections === '--probe') void probe(url);
else void load(url, Number(connections ?? 10), Number(duration ?? 3));
