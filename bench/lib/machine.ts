/**
 * Facts about the machine and tool versions, for the report; and the CPU plan.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { CpuPlan } from './proxies.js';
import type { ToolName, ToolStatus } from './tools.js';

export function loadAverage(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

export function machineFacts() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    cpuCount: os.availableParallelism(),
    kernel: os.release(),
    memoryBytes: os.totalmem(),
  };
}

/** "0-2,4" -> [0, 1, 2, 4]. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    if (!part) continue;
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    for (let c = from; c <= (to ?? from); c++) cpus.push(c);
  }
  return cpus;
}

/** The CPUs this process may run on (its affinity), from /proc/self/status. */
export function allowedCpus(): number[] {
  try {
    const match = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return parseCpuList(match[1]!);
  } catch {
    // Not Linux: fall through.
  }
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

/**
 * Where each side runs. The proxy gets a core of its own, so every proxy is
 * measured on one core. With two cores, wrk and the upstream share the other:
 * both do the same work per request whichever proxy is in between, and the
 * "direct" run (wrk -> upstream on that core) shows that side's ceiling.
 */
export function planCpus(cpus: readonly number[], tasksetPath: string | undefined, pin: boolean, unpinnedBecause = '--no-pin'): CpuPlan {
  const unpinned = (why: string): CpuPlan => ({ proxy: undefined, upstream: undefined, load: undefined, tasksetPath: undefined, description: `not pinned (${why}); the OS schedules every process` });
  if (!pin) return unpinned(unpinnedBecause);
  if (!tasksetPath) return unpinned('taskset not found; install util-linux');
  if (cpus.length < 2) return unpinned('fewer than 2 CPUs');
  const [a, b, c] = cpus as [number, number, number | undefined];
  if (c === undefined) {
    return {
      proxy: String(a),
      upstream: String(b),
      load: String(b),
      tasksetPath,
      description: `taskset: proxy on CPU ${a}; load generator and upstream share CPU ${b} (2 CPUs). "direct" is the ceiling of that shared CPU.`,
    };
  }
  return {
    proxy: String(a),
    upstream: String(b),
    load: cpus.slice(2).join(','),
    tasksetPath,
    description: `taskset: proxy on CPU ${a}, upstream on CPU ${b}, load generator on CPU ${cpus.slice(2).join(',')}.`,
  };
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

function commandOutput(command: string, args: string[]): string {
  // nginx -v and wrk -v print to stderr (wrk exits 1): take both streams, whatever the status.
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

export function toolVersions(tools: Readonly<Record<ToolName, ToolStatus>>, projectRoot: string): Record<string, string> {
  const versions: Record<string, string> = { node: process.version };
  if (tools.nginx.path) versions.nginx = firstLine(commandOutput(tools.nginx.path, ['-v'])).replace(/^nginx version: nginx\//, '');
  if (tools.haproxy.path) versions.haproxy = /version (\S+)/.exec(commandOutput(tools.haproxy.path, ['-v']))?.[1] ?? 'unknown';
  if (tools.varnishd.path) versions.varnish = /varnish-(\S+)/.exec(commandOutput(tools.varnishd.path, ['-V']))?.[1] ?? 'unknown';
  if (tools.wrk.path) versions.wrk = /wrk (\S+)/.exec(commandOutput(tools.wrk.path, ['-v']))?.[1] ?? 'unknown';
  // The OpenSSL that wrk, nginx and HAProxy use (Debian links them to the system's); warpdrive's uWS has BoringSSL inside.
  if (tools.openssl.path) versions.openssl = /OpenSSL (\S+)/.exec(commandOutput(tools.openssl.path, ['version']))?.[1] ?? 'unknown';
  try {
    const require = createRequire(import.meta.url);
    versions.autocannon = (require('autocannon/package.json') as { version: string }).version;
    versions['http-proxy'] = (require('http-proxy/package.json') as { version: string }).version;
  } catch {
    // Missing dev dependencies are reported by the tool check.
  }
  const commit = commandOutput('git', ['-C', projectRoot, 'rev-parse', '--short', 'HEAD']).trim();
  const dirty = commandOutput('git', ['-C', projectRoot, 'status', '--porcelain', '--untracked-files=no', '--', 'src']).trim();
  versions.warpdrive = commit ? `${commit}${dirty ? ' (src/ modified)' : ''}` : 'unknown';
  return versions;
}
