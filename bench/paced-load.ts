/**
 * Open-loop load at a fixed rate with microsecond latencies: the complement to
 * autocannon's `-R`, whose histogram counts whole milliseconds and whose pacing
 * comes in per-second bursts.
 *
 * Requests are due at evenly spaced times (start + k / rate) and go out on
 * idle keep-alive connections, one in flight per connection. A request sent
 * when it is due is timed from its send; a request that had to wait because
 * every connection was still busy is timed from when it was due: the
 * coordinated-omission correction, so a proxy that stalls is charged for the
 * requests that queued behind the stall. The timer ticks every millisecond or
 * so, sending whatever came due since the last tick; that lag is the
 * generator's, not the proxy's, and is not counted.
 *
 * Run: `node dist/bench/paced-load.js URL RATE CONNECTIONS DURATION_SEC`;
 * prints `PACED_RESULT {json}` in the shape of the other load results.
 *
 * @module
 */
import net from 'node:net';

/**
 * Latency histogram: one bucket per microsecond below 100 ms, then one per
 * millisecond up to 100 s (a proxy that falls behind a fixed rate queues for
 * seconds, and those tails must read as what they are, not as a cap).
 */
const FINE_LIMIT_US = 100_000;
const BUCKETS = FINE_LIMIT_US + 100_000;

export function bucketOf(us: number): number {
  if (us < FINE_LIMIT_US) return us;
  return Math.min(BUCKETS - 1, FINE_LIMIT_US + Math.floor((us - FINE_LIMIT_US) / 1000));
}

/** The lower bound of a bucket, in milliseconds. */
export function bucketMs(bucket: number): number {
  return bucket < FINE_LIMIT_US ? bucket / 1000 : (FINE_LIMIT_US + (bucket - FINE_LIMIT_US) * 1000) / 1000;
}
const HEADER_END = Buffer.from('\r\n\r\n');

interface Connection {
  socket: net.Socket;
  busy: boolean;
  /** When the in-flight request's latency started (performance.now() ms). */
  startedAt: number;
  buffer: Buffer;
}

function percentile(histogram: Uint32Array, total: number, p: number): number {
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let bucket = 0; bucket < histogram.length; bucket++) {
    seen += histogram[bucket]!;
    if (seen >= rank) return bucketMs(bucket);
  }
  return NaN;
}

/** Length of one complete response at the start of `buffer`, its status, whether the server will close; undefined if incomplete. */
export function completeResponse(buffer: Buffer): { length: number; status: number; closes: boolean } | undefined {
  const end = buffer.indexOf(HEADER_END);
  if (end === -1) return undefined;
  const head = buffer.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const bodyLength = lengthMatch ? Number(lengthMatch[1]) : 0;
  const total = end + 4 + bodyLength;
  if (buffer.length < total) return undefined;
  return { length: total, status, closes: /\r\nconnection:\s*close/i.test(head) };
}

async function main(): Promise<void> {
  const [urlText, rateText, connectionsText, durationText] = process.argv.slice(2);
  if (!urlText || !rateText) {
    process.stderr.write('usage: paced-load.js URL RATE CONNECTIONS DURATION_SEC\n');
    process.exit(2);
  }
  const url = new URL(urlText);
  const rate = Number(rateText);
  const connectionCount = Number(connectionsText ?? 50);
  const durationSec = Number(durationText ?? 5);
  const port = Number(url.port);
  // Built once: every request is the same bytes.
  const request = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`, 'latin1');

  const histogram = new Uint32Array(BUCKETS);
  let completed = 0;
  let socketErrors = 0;
  let statusErrors = 0;
  let maxUs = 0;
  /** Due times of requests that found no idle connection. */
  const waiting: number[] = [];
  let waitingHead = 0;
  const idle: Connection[] = [];

  const record = (c: Connection, status: number) => {
    const us = Math.round((performance.now() - c.startedAt) * 1000);
    histogram[bucketOf(us)]!++;
    if (us > maxUs) maxUs = us;
    completed++;
    if (status < 200 || status >= 400) statusErrors++;
  };

  const send = (c: Connection, startedAt: number) => {
    c.busy = true;
    c.startedAt = startedAt;
    c.socket.write(request);
  };

  const release = (c: Connection) => {
    c.busy = false;
    if (waitingHead < waiting.length) send(c, waiting[waitingHead++]!);
    else idle.push(c);
  };

  const open = (): Promise<Connection> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, url.hostname);
      socket.setNoDelay(true);
      const c: Connection = { socket, busy: false, startedAt: 0, buffer: Buffer.alloc(0) };
      socket.once('connect', () => resolve(c));
      socket.on('error', (error) => {
        socketErrors++;
        reject(error);
      });
      socket.on('data', (chunk: Buffer) => {
        c.buffer = c.buffer.length === 0 ? chunk : Buffer.concat([c.buffer, chunk]);
        const response = completeResponse(c.buffer);
        if (!response) return;
        c.buffer = c.buffer.subarray(response.length);
        record(c, response.status);
        if (response.closes) {
          socket.destroy();
          void open().then(release, () => undefined);
        } else {
          release(c);
        }
      });
      socket.on('close', () => {
        if (c.busy) socketErrors++;
      });
    });

  const connections = await Promise.all(Array.from({ length: connectionCount }, open));
  idle.push(...connections);

  const intervalMs = 1000 / rate;
  const started = performance.now();
  const deadline = started + durationSec * 1000;
  let due = 0; // index of the next request to come due
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const until = Math.min(now, deadline);
      while (started + due * intervalMs <= until) {
        const dueAt = started + due * intervalMs;
        due++;
        const c = idle.pop();
        // Sent on time (within the tick): timed from the send. Queued: timed from when it was due.
        if (c) send(c, now);
        else waiting.push(dueAt);
      }
      if (now >= deadline) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  // Let the requests in flight finish (bounded), then report.
  const drainUntil = performance.now() + 2_000;
  while (performance.now() < drainUntil && (idle.length < connections.length || waitingHead < waiting.length)) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const elapsedSec = (performance.now() - started) / 1000;
  for (const c of connections) c.socket.destroy();
  const result = {
    requests: completed,
    durationSec: elapsedSec,
    requestsPerSec: completed / elapsedSec,
    p50Ms: percentile(histogram, completed, 50),
    p99Ms: percentile(histogram, completed, 99),
    p999Ms: percentile(histogram, completed, 99.9),
    maxMs: maxUs / 1000,
    socketErrors,
    statusErrors,
    /** Requests that came due and were never sent (the proxy fell that far behind). */
    unsent: waiting.length - waitingHead,
  };
  process.stdout.write(`PACED_RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

// Run only as the entry point, so tests can import completeResponse.
if (process.argv[1]?.endsWith('paced-load.js')) void main();
