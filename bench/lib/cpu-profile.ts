/**
 * Reads the V8 CPU profiles that `node --cpu-prof` writes (a `.cpuprofile`
 * JSON: a call tree whose nodes carry sample counts) and turns them into what
 * steers optimisation: the functions with the most self time, and a call tree
 * for the flame graph.
 *
 * @module
 */
import { readdirSync } from 'node:fs';

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
}

/** V8's pseudo-frames that are not JavaScript doing work for a request. */
const IDLE = '(idle)';

export interface FunctionCost {
  /** `name (file:line)`, with the file shortened to what follows node_modules/ or the project. */
  readonly name: string;
  readonly selfSamples: number;
  /** Share of the busy (non-idle) samples, 0-100. */
  readonly selfPercent: number;
}

export function describeFrame(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const url = frame.url.replace(/^file:\/\//, '');
  const inModules = url.lastIndexOf('node_modules/');
  const short = inModules >= 0 ? url.slice(inModules + 'node_modules/'.length) : url.replace(/^.*\/(src|bench)\//, '$1/');
  return `${name} (${short}:${frame.lineNumber + 1})`;
}

/** Functions by self time over busy samples (idle excluded), most expensive first. */
export function topFunctions(profile: CpuProfile, limit: number): { busySamples: number; idleSamples: number; functions: FunctionCost[] } {
  const bySelf = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    if (node.callFrame.functionName === IDLE) {
      idle += hits;
      continue;
    }
    busy += hits;
    const key = describeFrame(node.callFrame);
    bySelf.set(key, (bySelf.get(key) ?? 0) + hits);
  }
  const functions = [...bySelf.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, selfSamples]) => ({ name, selfSamples, selfPercent: busy > 0 ? (selfSamples / busy) * 100 : 0 }));
  return { busySamples: busy, idleSamples: idle, functions };
}

/** A call-tree node with total (self + descendants) samples, for the flame graph. */
export interface FlameNode {
  readonly name: string;
  readonly total: number;
  readonly children: FlameNode[];
}

/** The profile's call tree with totals, idle removed and children sorted by name (flame graph order). */
export function flameTree(profile: CpuProfile): FlameNode {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const root = profile.nodes[0];
  if (!root) return { name: 'root', total: 0, children: [] };
  // Iterative post-order: profiles can be deeper than a comfortable recursion.
  const built = new Map<number, FlameNode>();
  const stack: Array<{ id: number; expanded: boolean }> = [{ id: root.id, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    const node = byId.get(top.id)!;
    if (!top.expanded) {
      stack.push({ id: top.id, expanded: true });
      for (const child of node.children ?? []) stack.push({ id: child, expanded: false });
      continue;
    }
    const children = (node.children ?? [])
      .map((c) => built.get(c))
      .filter((c): c is FlameNode => c !== undefined && c.total > 0 && c.name !== IDLE)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const self = node.callFrame.functionName === IDLE ? 0 : (node.hitCount ?? 0);
    const total = self + children.reduce((sum, c) => sum + c.total, 0);
    built.set(node.id, { name: node.id === root.id ? 'all' : describeFrame(node.callFrame), total, children });
  }
  return built.get(root.id)!;
}

/**
 * The main thread's profile among the files `--cpu-prof` wrote into `dir`
 * (`CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`; thread 0 is the main
 * thread, worker threads get their own files).
 */
export function mainThreadProfile(dir: string): string | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  const main = files.find((f) => f.split('.')[4] === '0') ?? files[0];
  return main === undefined ? undefined : `${dir}/${main}`;
}
