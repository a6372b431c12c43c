/**
 * The admin listener (`[admin] listen`): Prometheus metrics, a JSON API and the
 * live dashboard, on an address of its own (loopback TCP or a Unix socket, or
 * beyond loopback with a token). It runs on the main thread with Node's http
 * module: a few requests a second at most, far from the proxy's hot path, and a
 * Unix socket is one `listen(path)` away.
 *
 *   GET  /                               the dashboard (a self-contained page; its data comes from the API)
 *   GET  /metrics                        Prometheus text format
 *   GET  /api/status                     routes, upstreams, instances, processes, threads, recent errors
 *   GET  /api/logs?process=NAME&lines=N  the last lines supervised processes wrote
 *   POST /api/instances/ID/drain         no new requests for the instance (in-flight ones finish)
 *   POST /api/instances/ID/enable        back into rotation
 *   POST /api/processes/NAME/restart     one process, or an upstream's processes one at a time
 *   POST /api/reload                     as SIGHUP
 *
 * With a token configured every path but the dashboard page itself asks for
 * `Authorization: Bearer TOKEN` (compared in constant time).
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AdminSpec, RuntimePlan } from '../config/types.js';
import type { ReloadOutcome } from '../app.js';
import { createLogger } from '../log.js';
import { aggregate } from '../metrics/aggregate.js';
import { renderPrometheus, type ProcessFacts } from '../metrics/prometheus.js';
import type { ThreadSnapshot } from '../metrics/thread-snapshot.js';
import type { UnitStatus } from '../supervisor/client.js';
import { dashboardPage } from './dashboard-page.js';
import { fleetStatus } from './fleet-status.js';
import type { ProcessLogs } from './process-logs.js';
import type { RestartOutcome } from './rolling-restart.js';

const log = createLogger('admin');

/** What the admin listener needs of the running warpdrive (src/app.ts provides it). */
export interface AdminHost {
  plan(): RuntimePlan;
  /** Every proxy thread's snapshot (the main thread's first). */
  snapshots(): Promise<ThreadSnapshot[]>;
  processes(): UnitStatus[];
  readonly processLogs: ProcessLogs | undefined;
  facts(): ProcessFacts;
  /** Drains (or enables) an instance on every thread; false when no instance has that id. */
  setDrained(instanceId: string, drained: boolean): boolean;
  restart(name: string): Promise<RestartOutcome>;
  reload(reason: string): Promise<ReloadOutcome>;
}

export class AdminListenError extends Error {
  readonly code = 'WD_ERR_ADMIN_LISTEN';
}

/** `http://127.0.0.1:9180` or `unix:/run/warpdrive/admin.sock`, for logs and the CLI. */
export function describeAdminAddress(listen: AdminSpec['listen']): string {
  return listen.kind === 'unix' ? `unix:${listen.socketPath}` : `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

function send(res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, extra);
}

/** A Unix socket file left by a warpdrive that is gone answers nothing: remove it; one that answers is in use. */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new AdminListenError(`cannot listen on admin socket ${path}: a file that is not a socket is in the way; fix: remove it or choose another [admin] listen path`);
  const inUse = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (inUse) throw new AdminListenError(`cannot listen on admin socket ${path}: another process is listening on it (another warpdrive?); fix: stop it or choose another [admin] listen path`);
  rmSync(path, { force: true });
}

export class AdminServer {
  /** Where it listens, with the port the kernel chose when the configuration said 0. */
  address: string;
  readonly #server: http.Server;
  readonly #host: AdminHost;
  readonly #token: Buffer | undefined;
  readonly #socketPath: string | undefined;

  private constructor(spec: AdminSpec, host: AdminHost, server: http.Server) {
    this.address = describeAdminAddress(spec.listen);
    this.#server = server;
    this.#host = host;
    this.#token = spec.token === undefined ? undefined : digest(spec.token);
    this.#socketPath = spec.listen.kind === 'unix' ? spec.listen.socketPath : undefined;
  }

  static async start(spec: AdminSpec, host: AdminHost): Promise<AdminServer> {
    const server = http.createServer();
    const admin = new AdminServer(spec, host, server);
    server.on('request', (req, res) => {
      admin.#handle(req, res).catch((error: unknown) => {
        log.error(`admin request ${req.method} ${req.url} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error; see warpdrive\'s log' });
        else res.destroy();
      });
    });
    const listen = spec.listen;
    if (listen.kind === 'unix') await clearStaleSocket(listen.socketPath);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const where = describeAdminAddress(listen);
        const why =
          error.code === 'EADDRINUSE'
            ? 'the address is in use'
            : error.code === 'EACCES'
              ? 'permission denied'
              : error.code === 'EADDRNOTAVAIL'
                ? 'the address is not available on this machine'
                : error.code === 'ENOENT'
                  ? 'its directory does not exist'
                  : error.message;
        reject(new AdminListenError(`cannot listen on the admin address ${where}: ${why}; fix: change [admin] listen`));
      });
      if (listen.kind === 'unix') server.listen(listen.socketPath, resolve);
      else server.listen(listen.port, listen.host, resolve);
    });
    // Only the owner and its group may talk to the socket.
    if (listen.kind === 'unix') chmodSync(listen.socketPath, 0o660);
    else admin.address = describeAdminAddress({ ...listen, port: (server.address() as net.AddressInfo).port });
    log.info(`admin listener on ${admin.address} (dashboard /, metrics /metrics, API /api/${spec.token === undefined ? '' : '; token required'})`);
    return admin;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    if (this.#socketPath !== undefined) rmSync(this.#socketPath, { force: true });
  }

  #authorized(req: http.IncomingMessage): boolean {
    if (this.#token === undefined) return true;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    return match !== null && timingSafeEqual(digest(match[1]!.trim()), this.#token);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    // The API takes no request bodies.
    req.resume();

    if (path === '/' || path === '/index.html') {
      if (method !== 'GET' && method !== 'HEAD') return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
      return send(res, 200, 'text/html; charset=utf-8', dashboardPage(), { 'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:" });
    }
    if (!this.#authorized(req)) {
      return sendJson(res, 401, { error: 'missing or wrong token: send Authorization: Bearer <[admin] token>' }, { 'www-authenticate': 'Bearer realm="warpdrive admin"' });
    }

    const get = method === 'GET' || method === 'HEAD';
    if (path === '/metrics') {
      if (!get) return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
      const host = this.#host;
      const text = renderPrometheus(aggregate(await host.snapshots()), host.processes(), host.facts());
      return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', text);
    }
    if (path === '/api/status') {
      if (!get) return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
      const host = this.#host;
      return sendJson(res, 200, fleetStatus(host.plan(), aggregate(await host.snapshots()), host.processes(), { ...host.facts(), pid: process.pid }));
    }
    if (path === '/api/logs') {
      if (!get) return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
      const lines = Math.min(1000, Math.max(1, Number(url.searchParams.get('lines') ?? 100) || 100));
      const processName = url.searchParams.get('process') ?? undefined;
      return sendJson(res, 200, { lines: this.#host.processLogs?.tail(lines, processName) ?? [] });
    }
    if (path === '/api/reload') {
      if (method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      const outcome = await this.#host.reload('admin API');
      return sendJson(res, outcome.ok ? 200 : outcome.code === 'WD_ERR_CONFIG' ? 422 : 409, outcome);
    }
    const instance = /^\/api\/instances\/([^/]+)\/(drain|enable)$/.exec(path);
    if (instance !== null) {
      if (method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      const id = decodeURIComponent(instance[1]!);
      const drained = instance[2] === 'drain';
      if (!this.#host.setDrained(id, drained)) {
        return sendJson(res, 404, { error: `no instance ${id}; instance ids look like app#0 (write # as %23 in a URL)` });
      }
      log.info(`${id} ${drained ? 'drained' : 'enabled'} through the admin API`);
      return sendJson(res, 200, { instance: id, drained });
    }
    const processMatch = /^\/api\/processes\/([^/]+)\/restart$/.exec(path);
    if (processMatch !== null) {
      if (method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      const name = decodeURIComponent(processMatch[1]!);
      log.info(`restart of ${name} requested through the admin API`);
      const outcome = await this.#host.restart(name);
      return sendJson(res, outcome.ok ? 200 : outcome.status, outcome);
    }
    return sendJson(res, 404, { error: `no such path: ${path}; see GET /api/status, /metrics, or the dashboard at /` });
  }
}
