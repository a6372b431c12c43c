/**
 * How `warpdrive status` and `warpdrive restart` reach a running warpdrive: the
 * admin listener named by the same configuration file (`[admin] listen`, a TCP
 * address or a Unix socket), with its token (`[admin] token` or
 * WARPDRIVE_ADMIN_API_TOKEN). Nothing else to find: no pid file.
 *
 * @module
 */
import http from 'node:http';
import type { AdminSpec, RuntimePlan } from '../config/types.js';
import { describeAdminAddress } from '../admin/admin-server.js';

/** The CLI could not talk to the admin listener (exit 1), or was not told where it is (exit 2). */
export class AdminRequestError extends Error {
  readonly code: 'WD_ERR_ADMIN_REQUEST' | 'WD_ERR_ARGUMENT' | 'WD_ERR_NOT_RUNNING';

  constructor(code: AdminRequestError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** The admin listener of `plan`, or an explanation of how to configure one. */
export function adminOf(plan: RuntimePlan, command: string): AdminSpec {
  if (plan.admin === undefined) {
    throw new AdminRequestError(
      'WD_ERR_ARGUMENT',
      `warpdrive ${command}: ${plan.source} has no [admin] section, so the running warpdrive has no admin listener to ask. ` +
        'Fix: add [admin] with listen = "127.0.0.1:9180" (or a Unix socket path) and restart warpdrive; see docs/operations.md.',
    );
  }
  return plan.admin;
}

const TIMEOUT_MS = 120_000;

/** Sends one request to the admin listener and resolves with its status and parsed JSON body. */
export function adminRequest(admin: AdminSpec, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const where = describeAdminAddress(admin.listen);
  return new Promise((resolve, reject) => {
    const target = admin.listen.kind === 'unix' ? { socketPath: admin.listen.socketPath } : { host: admin.listen.host, port: admin.listen.port };
    const req = http.request({ ...target, method, path, headers: admin.token === undefined ? {} : { authorization: `Bearer ${admin.token}` }, timeout: TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new AdminRequestError('WD_ERR_ADMIN_REQUEST', `the admin listener at ${where} answered ${res.statusCode} with something that is not JSON; is it warpdrive's?`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const notRunning = error.code === 'ECONNREFUSED' || error.code === 'ENOENT';
      reject(
        new AdminRequestError(
          notRunning ? 'WD_ERR_NOT_RUNNING' : 'WD_ERR_ADMIN_REQUEST',
          notRunning
            ? `no warpdrive answers at ${where} (${error.code}); is it running with this configuration? Start it with --config, or check [admin] listen`
            : `cannot reach the admin listener at ${where}: ${error.message}`,
        ),
      );
    });
    req.end();
  });
}
