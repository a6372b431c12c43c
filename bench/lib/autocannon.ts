/**
 * Latency at a fixed request rate with autocannon (`-R`, the overall rate).
 *
 * wrk measures the maximum a proxy can do; at that point every proxy queues, so
 * its latencies say little about a normally loaded front door. At a fixed rate
 * autocannon records the latency from the time each request should have been
 * sent where it fell behind (its coordinated-omission correction).
 *
 * Caveats, stated in the report: autocannon's latency histogram counts whole
 * milliseconds (values under 1 ms read as 0 or 1), and it paces each connection
 * per second, so the load comes in bursts at the start of each second.
 *
 * @module
 */
import { runToCompletion } from './processes.js';
import type { LoadResult } from './wrk.js';

export interface AutocannonRun {
  /** The autocannon CLI script (run with this Node). */
  readonly cliPath: string;
  readonly url: string;
  readonly ratePerSec: number;
  readonly durationSec: number;
  readonly connections: number;
  readonly cpus: string | undefined;
  readonly tasksetPath: string | undefined;
}

interface AutocannonJson {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number; p99_9?: number; max: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

export function parseAutocannonJson(stdout: string): LoadResult {
  // With --json autocannon prints one JSON document; take the last line that parses.
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let parsed: AutocannonJson;
    try {
      parsed = JSON.parse(line) as AutocannonJson;
    } catch {
      continue;
    }
    const durationSec = parsed.duration;
    return {
      requests: parsed.requests.total,
      durationSec,
      requestsPerSec: durationSec > 0 ? parsed.requests.total / durationSec : parsed.requests.average,
      p50Ms: parsed.latency.p50,
      p99Ms: parsed.latency.p99,
      p999Ms: parsed.latency.p99_9 ?? NaN,
      maxMs: parsed.latency.max,
      socketErrors: parsed.errors + parsed.timeouts,
      statusErrors: parsed.non2xx,
    };
  }
  throw new Error(`bench: autocannon printed no JSON result; its output:\n${stdout.slice(-2000)}`);
}

export async function runAutocannon(run: AutocannonRun): Promise<LoadResult> {
  const args = [run.cliPath, '--json', '-c', String(run.connections), '-R', String(run.ratePerSec), '-d', String(run.durationSec), run.url];
  const { code, stdout, stderr } = await runToCompletion(process.execPath, args, (run.durationSec + 30) * 1000, run.cpus, run.tasksetPath);
  if (code !== 0) throw new Error(`bench: autocannon exited with ${String(code)}: ${stderr.trim().slice(-2000)}`);
  return parseAutocannonJson(stdout);
}
