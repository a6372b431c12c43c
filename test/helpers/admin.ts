/**
 * Talking to warpdrive's admin listener from tests, as Prometheus, curl or the
 * dashboard would: over its Unix socket (or TCP), with an optional bearer token.
 *
 * @module
 */
import { Agent, request } from 'undici';

export interface AdminAnswer {
  readonly status: number;
  readonly text: string;
  readonly headers: Record<string, string | string[] | undefined>;
  json<T = Record<string, unknown>>(): T;
}

/** One request to the admin listener at `where` (a socket path, or `http://host:port`). */
export async function admin(where: string, path: string, options: { method?: 'GET' | 'POST' | 'PUT'; token?: string } = {}): Promise<AdminAnswer> {
  const overSocket = !where.startsWith('http');
  const dispatcher = overSocket ? new Agent({ connect: { socketPath: where } }) : undefined;
  try {
    const res = await request(`${overSocket ? 'http://admin' : where}${path}`, {
      method: options.method ?? 'GET',
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
      dispatcher,
    });
    const text = await res.body.text();
    return { status: res.statusCode, text, headers: res.headers, json: <T>() => JSON.parse(text) as T };
  } finally {
    await dispatcher?.close();
  }
}

/** The value of one Prometheus sample (`name{labels}` exactly as written), or undefined when absent. */
export function sample(metrics: string, series: string): number | undefined {
  for (const line of metrics.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) === series) return Number(line.slice(space + 1));
  }
  return undefined;
}
