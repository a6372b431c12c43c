/**
 * Runs wrk (peak throughput) and reads its results.
 *
 * wrk is run with `--latency` and a Lua `done()` hook (bench/lua/report.lua)
 * that prints a `WRK_RESULT {json}` line. The text summary gives requests/s and
 * the latency table; the JSON line gives exact error counts and p99.9, which the
 * text table lacks. Both are parsed; the JSON line wins where they overlap.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './configs.js';
import { runToCompletion } from './processes.js';

export interface LoadResult {
  readonly requests: number;
  readonly durationSec: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Connect/read/write errors and timeouts. */
  readonly socketErrors: number;
  /** Responses outside 2xx/3xx. */
  readonly statusErrors: number;
}

/** `500.00us`, `1.10ms`, `2.00s`, `1.00m` -> milliseconds. */
export function parseWrkDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`bench: cannot read wrk duration "${text}"`);
  const value = Number(match[1]);
  const unit = match[2];
  const factor = unit === 'us' ? 0.001 : unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return value * factor;
}

interface WrkJson {
  requests: number;
  durationUs: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  statusErrors: number;
  timeouts: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** Parses wrk's stdout (text summary with `--latency`, plus the WRK_RESULT line). */
export function parseWrkOutput(stdout: string): LoadResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(stdout);
  const jsonLine = /^WRK_RESULT (\{.*\})$/m.exec(stdout);
  if (!rps && !jsonLine) throw new Error(`bench: wrk printed no results; its output:\n${stdout}`);
  const percentile = (p: string): number | undefined => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(stdout);
    return m ? parseWrkDuration(m[1]!) : undefined;
  };
  if (jsonLine) {
    const j = JSON.parse(jsonLine[1]!) as WrkJson;
    const durationSec = j.durationUs / 1e6;
    return {
      requests: j.requests,
      durationSec,
      // Prefer wrk's own figure (same formula, printed with 2 decimals).
      requestsPerSec: rps ? Number(rps[1]) : j.requests / durationSec,
      p50Ms: j.p50Us / 1000,
      p99Ms: j.p99Us / 1000,
      p999Ms: j.p999Us / 1000,
      maxMs: j.maxUs / 1000,
      socketErrors: j.connectErrors + j.readErrors + j.writeErrors + j.timeouts,
      statusErrors: j.statusErrors,
    };
  }
  // Text only (a script without the report hook): no p99.9, so NaN says "not measured".
  const requests = /(\d+) requests in ([\d.]+\w+)/.exec(stdout);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  const max = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(stdout);
  return {
    requests: requests ? Number(requests[1]) : 0,
    durationSec: requests ? parseWrkDuration(requests[2]!) / 1000 : 0,
    requestsPerSec: Number(rps![1]),
    p50Ms: percentile('50') ?? NaN,
    p99Ms: percentile('99') ?? NaN,
    p999Ms: NaN,
    maxMs: max ? parseWrkDuration(max[1]!) : NaN,
    socketErrors: socket ? socket.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0,
    statusErrors: non2xx ? Number(non2xx[1]) : 0,
  };
}

export interface WrkScript {
  /** Lua files from bench/lua/ to concatenate (report.lua is always appended). */
  readonly parts: readonly string[];
  /** Lua source to put before the parts (generated data such as the route targets). */
  readonly prelude?: string;
}

/** Writes the scenario's wrk script into `dir` and returns its path. */
export function writeWrkScript(dir: string, name: string, script: WrkScript): string {
  const luaDir = path.join(projectRoot(), 'bench', 'lua');
  const pieces = [script.prelude ?? '', ...[...script.parts, 'report.lua'].map((p) => readFileSync(path.join(luaDir, p), 'utf8'))];
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(file, pieces.join('\n'));
  return file;
}

/** A Lua table literal of {host, path} pairs for routes.lua. */
export function luaTargets(targets: ReadonlyArray<{ host: string; path: string }>): string {
  const rows = targets.map((t) => `  {${JSON.stringify(t.host)}, ${JSON.stringify(t.path)}},`);
  return `targets = {\n${rows.join('\n')}\n}\n`;
}

export interface WrkRun {
  readonly wrkPath: string;
  readonly url: string;
  readonly scriptFile: string;
  readonly durationSec: number;
  readonly connections: number;
  readonly threads: number;
  readonly headers: readonly string[];
  readonly cpus: string | undefined;
  readonly tasksetPath: string | undefined;
  /** wrk's environment (https-new-conn preloads wrk-no-resume.so); the bench's own when absent. */
  readonly env?: NodeJS.ProcessEnv;
}

export function wrkArgs(run: WrkRun): string[] {
  const args = [
    `-t${run.threads}`,
    `-c${run.connections}`,
    `-d${run.durationSec}s`,
    '--latency',
    '--timeout',
    '10s',
    '-s',
    run.scriptFile,
  ];
  for (const h of run.headers) args.push('-H', h);
  args.push(run.url);
  return args;
}

export async function runWrk(run: WrkRun): Promise<LoadResult> {
  const { code, stdout, stderr } = await runToCompletion(run.wrkPath, wrkArgs(run), (run.durationSec + 30) * 1000, run.cpus, run.tasksetPath, run.env);
  if (code !== 0) throw new Error(`bench: wrk exited with ${String(code)}: ${stderr.trim() || stdout.trim()}`);
  return parseWrkOutput(stdout);
}
