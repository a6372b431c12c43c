/**
 * Full TLS handshakes from wrk, for `https-new-conn`.
 *
 * wrk resumes TLS sessions when it reconnects (bench/native/wrk-no-resume.c says
 * why), so "Connection: close over https" would measure resumptions, which skip
 * the certificate signature. The bench builds that small library at run time and
 * preloads it into wrk, and before measuring it checks that it works: wrk, with
 * the library, against a Node.js TLS server that issues session tickets and
 * resumes any session it is offered, must complete handshakes and resume none.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { BenchTlsFiles } from './bench-tls.js';
import { projectRoot } from './configs.js';
import { runToCompletion } from './processes.js';

/** The C source, relative to the project root. */
export const NO_RESUME_SOURCE = path.join('bench', 'native', 'wrk-no-resume.c');

/** Compiles the library into `outDir` with `ccPath`; returns its path. Throws with the compiler's message. */
export function buildNoResumeLibrary(ccPath: string, outDir: string): string {
  const output = path.join(outDir, 'wrk-no-resume.so');
  const source = path.join(projectRoot(), NO_RESUME_SOURCE);
  // -ldl: dlsym lives in libdl before glibc 2.34 (an empty stub after).
  const result = spawnSync(ccPath, ['-shared', '-fPIC', '-O2', '-o', output, source, '-ldl'], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`bench: ${ccPath} could not build ${NO_RESUME_SOURCE} (exit ${String(result.status)}): ${(result.stderr || result.error?.message || '').trim()}`);
  return output;
}

/** The environment that preloads the library into wrk (kept in front of any LD_PRELOAD already set). */
export function noResumeEnv(libraryPath: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const existing = base.LD_PRELOAD;
  return { ...base, LD_PRELOAD: existing ? `${libraryPath}:${existing}` : libraryPath };
}

export interface ResumptionCount {
  /** TLS handshakes the server completed. */
  readonly handshakes: number;
  /** Of those, how many resumed a session instead of a full handshake. */
  readonly resumed: number;
}

export interface ResumptionRun {
  readonly wrkPath: string;
  readonly tls: BenchTlsFiles;
  /** wrk's environment: `noResumeEnv(...)` to check the library, undefined for wrk as it is. */
  readonly env: NodeJS.ProcessEnv | undefined;
  readonly durationSec: number;
  readonly connections: number;
  readonly cpus: string | undefined;
  readonly tasksetPath: string | undefined;
}

const CLOSE_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n';

/**
 * Runs wrk with "Connection: close" against a Node.js TLS server on 127.0.0.1 that
 * serves the bench certificate, sends session tickets (TLS 1.3, Node's default) and
 * resumes what it is offered, and counts the handshakes it completed and resumed.
 */
export async function countWrkResumptions(run: ResumptionRun): Promise<ResumptionCount> {
  let handshakes = 0;
  let resumed = 0;
  const server = tls.createServer({ cert: readFileSync(run.tls.certFile), key: readFileSync(run.tls.keyFile), minVersion: 'TLSv1.2' }, (socket) => {
    handshakes++;
    if (socket.isSessionReused()) resumed++;
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      head += chunk;
      if (head.includes('\r\n\r\n')) socket.end(CLOSE_RESPONSE);
    });
    // wrk resets the connections it holds when it stops: nothing to report.
    socket.on('error', () => {});
  });
  // A connection wrk drops mid-handshake at the end of its run.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  try {
    const url = `https://${run.tls.serverName}:${port}/`;
    const args = ['-t1', `-c${run.connections}`, `-d${run.durationSec}s`, '-H', 'Connection: close', url];
    const { code, stdout, stderr } = await runToCompletion(run.wrkPath, args, (run.durationSec + 30) * 1000, run.cpus, run.tasksetPath, run.env);
    if (code !== 0) throw new Error(`bench: wrk exited with ${String(code)} in the TLS resumption check: ${stderr.trim() || stdout.trim()}`);
    return { handshakes, resumed };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Below this many handshakes in the check, it proves nothing. */
const MIN_CHECKED_HANDSHAKES = 20;

/**
 * Checks that wrk with the library makes full handshakes only; returns the counts
 * (for the report) or throws saying what went wrong and what to do.
 */
export async function checkFullHandshakes(run: ResumptionRun): Promise<ResumptionCount> {
  const count = await countWrkResumptions(run);
  if (count.resumed > 0) {
    throw new Error(
      `wrk resumed ${count.resumed} of ${count.handshakes} TLS sessions although ${NO_RESUME_SOURCE} was preloaded, so https-new-conn would not measure full handshakes. ` +
        `This wrk probably has OpenSSL linked in statically (\`ldd ${run.wrkPath}\` lists no libssl): use a wrk linked with the system's libssl (Debian's: apt-get install wrk).`,
    );
  }
  if (count.handshakes < MIN_CHECKED_HANDSHAKES) {
    throw new Error(`the TLS resumption check saw only ${count.handshakes} handshake(s) from wrk in ${run.durationSec} s (at least ${MIN_CHECKED_HANDSHAKES} needed to show anything)`);
  }
  return count;
}
