/**
 * `warpdrive status` and `warpdrive restart NAME`, against a warpdrive started
 * from another shell (found through the configuration's `[admin] listen`).
 *
 * `status` prints one line per instance, like `pm2 ls`: its process (pid, uptime,
 * restarts, CPU, memory), its state and its requests per second, measured over one
 * second between two reads of the counters.
 *
 * @module
 */
import type { RuntimePlan } from '../config/types.js';
import { adminOf, adminRequest, AdminRequestError } from './admin-client.js';
import { alignColumns } from './routes.js';

interface InstanceRow {
  id: string;
  address: string;
  state: string;
  requests: number;
  process: string | null;
}
interface ProcessRow {
  unit: string;
  pid: number | undefined;
  state: string;
  restarts: number;
  cpu: number;
  rssBytes: number;
  uptimeSecs: number | null;
}
interface Status {
  warpdrive: { pid: number; version: string; uptimeSecs: number; config: string; proxyThreads: number; reloads: { ok: number; failed: number } };
  upstreams: { name: string; instances: InstanceRow[] }[];
  processes: ProcessRow[];
}

const RATE_WINDOW_MS = 1_000;

function uptime(secs: number | null | undefined): string {
  if (secs === null || secs === undefined) return '-';
  if (secs >= 86_400) return `${Math.floor(secs / 86_400)}d ${Math.floor((secs % 86_400) / 3600)}h`;
  if (secs >= 3600) return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
  if (secs >= 60) return `${Math.floor(secs / 60)}m ${secs % 60}s`;
  return `${secs}s`;
}

const mib = (bytes: number): string => `${(bytes / (1 << 20)).toFixed(1)} MiB`;

async function readStatus(plan: RuntimePlan): Promise<Status> {
  const { status, body } = await adminRequest(adminOf(plan, 'status'), 'GET', '/api/status');
  if (status !== 200) throw new AdminRequestError(status === 401 ? 'WD_ERR_ARGUMENT' : 'WD_ERR_ADMIN_REQUEST', `warpdrive status: the admin listener answered ${status}: ${String(body.error ?? '')}`);
  return body as unknown as Status;
}

/** The status table (two reads, one second apart, for the request rates). */
export async function runStatusCommand(plan: RuntimePlan): Promise<string> {
  const before = await readStatus(plan);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, RATE_WINDOW_MS));
  const now = await readStatus(plan);
  const seconds = (performance.now() - started) / 1000;
  const previous = new Map(before.upstreams.flatMap((u) => u.instances.map((i) => [i.id, i.requests] as const)));
  const processes = new Map(now.processes.map((p) => [p.unit, p]));

  const rows = [['upstream', 'instance', 'address', 'process', 'pid', 'uptime', 'restarts', 'cpu', 'memory', 'state', 'req/s']];
  for (const upstream of now.upstreams) {
    for (const i of upstream.instances) {
      const p = i.process === null ? undefined : processes.get(i.process);
      const rate = Math.max(0, i.requests - (previous.get(i.id) ?? i.requests)) / seconds;
      rows.push([
        upstream.name,
        i.id,
        i.address,
        p?.unit ?? '-',
        p?.pid === undefined ? '-' : String(p.pid),
        p === undefined ? '-' : uptime(p.uptimeSecs),
        p === undefined ? '-' : String(p.restarts),
        p === undefined ? '-' : `${p.cpu.toFixed(1)}%`,
        p === undefined ? '-' : mib(p.rssBytes),
        p === undefined || p.state === 'ready' ? i.state : `${i.state} (process ${p.state})`,
        rate.toFixed(1),
      ]);
    }
  }
  const w = now.warpdrive;
  const head =
    `warpdrive ${w.version}, pid ${w.pid}, up ${uptime(w.uptimeSecs)}, ${w.proxyThreads} proxy thread${w.proxyThreads === 1 ? '' : 's'}, ` +
    `config ${w.config}, reloads ${w.reloads.ok}${w.reloads.failed > 0 ? ` (${w.reloads.failed} refused)` : ''}`;
  return [head, '', ...alignColumns(rows)].join('\n');
}

/** Restarts NAME through the admin listener; resolves with what to print. */
export async function runRestartCommand(plan: RuntimePlan, name: string): Promise<string> {
  const { status, body } = await adminRequest(adminOf(plan, 'restart'), 'POST', `/api/processes/${encodeURIComponent(name)}/restart`);
  const restarted = (body.restarted as string[] | undefined) ?? [];
  if (status === 200) {
    return restarted.length === 1 ? `restarted ${restarted[0]}: ready again` : `restarted ${restarted.join(', ')} one at a time, each ready before the next`;
  }
  const done = restarted.length === 0 ? '' : ` (restarted before that: ${restarted.join(', ')})`;
  throw new AdminRequestError(status === 404 || status === 401 ? 'WD_ERR_ARGUMENT' : 'WD_ERR_ADMIN_REQUEST', `warpdrive restart ${name}: ${String(body.error ?? `answered ${status}`)}${done}`);
}
