/**
 * CPU and memory of a proxy during a measured run, read from /proc (Linux).
 *
 * A proxy may be several processes (nginx: master + worker), so the sampler sums
 * over the process tree under the root pid. CPU is the user+system time the tree
 * spent during the window, as a percentage of one core; peak RSS is the largest
 * summed VmRSS seen at any sample (every `intervalMs`).
 *
 * @module
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ResourceUsage {
  /** User+system CPU over the window, in percent of one core (200 = two cores busy). */
  readonly cpuPercent: number;
  /** Largest total resident set size sampled, in bytes. */
  readonly peakRssBytes: number;
  readonly samples: number;
}

let clockTicksPerSecond: number | undefined;

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on every mainstream Linux). */
function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** The pid and all its descendants, via /proc/PID/task/TID/children. */
export function processTree(root: number): number[] {
  const seen: number[] = [];
  const queue = [root];
  // Bounded: a proxy tree has a handful of processes; 256 guards against surprises.
  while (queue.length > 0 && seen.length < 256) {
    const pid = queue.shift()!;
    seen.push(pid);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
        if (children) for (const c of children.split(' ')) queue.push(Number(c));
      } catch {
        // The thread ended between readdir and read.
      }
    }
  }
  return seen;
}

/** utime+stime of one process in clock ticks; 0 when it is gone. */
export function cpuTicks(pid: number): number {
  try {
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0;
  }
}

/**
 * Fields 14 and 15 (utime, stime) of /proc/PID/stat. The command name (field 2)
 * may contain spaces and parentheses, so counting starts after its last ')'.
 */
export function parseStatTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  return Number(rest[11]) + Number(rest[12]);
}

/** VmRSS of one process in bytes; 0 when it is gone or a kernel thread. */
export function rssBytes(pid: number): number {
  try {
    return parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return 0;
  }
}

export function parseVmRss(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Samples a process tree from `start()` until `stop()`. */
export class ProcessSampler {
  readonly #root: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #pids: number[] = [];
  #startTicks = new Map<number, number>();
  #lastTicks = new Map<number, number>();
  #peakRss = 0;
  #samples = 0;

  constructor(rootPid: number, intervalMs = 200) {
    this.#root = rootPid;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#startedAt = performance.now();
    this.#pids = processTree(this.#root);
    for (const pid of this.#pids) {
      const ticks = cpuTicks(pid);
      this.#startTicks.set(pid, ticks);
      this.#lastTicks.set(pid, ticks);
    }
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
  }

  #sample(): void {
    let rss = 0;
    for (const pid of this.#pids) {
      rss += rssBytes(pid);
      const ticks = cpuTicks(pid);
      // A process that exited reads 0; keep its last known total.
      if (ticks > 0) this.#lastTicks.set(pid, ticks);
    }
    if (rss > this.#peakRss) this.#peakRss = rss;
    this.#samples++;
  }

  stop(): ResourceUsage {
    if (this.#timer) clearInterval(this.#timer);
    this.#sample();
    const seconds = (performance.now() - this.#startedAt) / 1000;
    let ticks = 0;
    for (const pid of this.#pids) ticks += (this.#lastTicks.get(pid) ?? 0) - (this.#startTicks.get(pid) ?? 0);
    const cpuPercent = seconds > 0 ? (ticks / ticksPerSecond() / seconds) * 100 : 0;
    return { cpuPercent, peakRssBytes: this.#peakRss, samples: this.#samples };
  }
}

/**
 * Busy share of some CPUs over a window, from /proc/stat: everything but idle and
 * iowait, so interrupt and softirq time (where the kernel's loopback networking
 * runs) counts as busy. Used on the load generator's CPUs: near 100% there, the
 * load side, not the proxy, sets the throughput.
 */
export class CpuBusySampler {
  readonly #cpus: readonly number[];
  #start: Array<{ busy: number; total: number }> = [];

  constructor(cpus: readonly number[]) {
    this.#cpus = cpus;
  }

  start(): void {
    this.#start = this.#read();
  }

  /** Average busy percent of the CPUs since `start()`; NaN when /proc/stat cannot be read. */
  stop(): number {
    const end = this.#read();
    if (end.length !== this.#start.length || end.length === 0) return NaN;
    let busy = 0;
    let total = 0;
    for (let i = 0; i < end.length; i++) {
      busy += end[i]!.busy - this.#start[i]!.busy;
      total += end[i]!.total - this.#start[i]!.total;
    }
    return total > 0 ? (busy / total) * 100 : NaN;
  }

  #read(): Array<{ busy: number; total: number }> {
    let text: string;
    try {
      text = readFileSync('/proc/stat', 'utf8');
    } catch {
      return [];
    }
    return this.#cpus.flatMap((cpu) => {
      const line = text.split('\n').find((l) => l.startsWith(`cpu${cpu} `));
      return line ? [parseCpuLine(line)] : [];
    });
  }
}

/** `cpuN user nice system idle iowait irq softirq steal ...` -> busy and total jiffies. */
export function parseCpuLine(line: string): { busy: number; total: number } {
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}
