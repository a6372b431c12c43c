/**
 * What Rack::Sendfile (rack 3) does with a file body, so that a test upstream
 * behaves as a Rails app with `send_file` does behind warpdrive:
 * - `X-Sendfile-Type: X-Sendfile` in the request: answer `X-Sendfile: /abs/path`,
 *   `Content-Length: 0`, empty body;
 * - `X-Sendfile-Type: X-Accel-Redirect`: map the path with the request's
 *   `X-Accel-Mapping` (`internal=external`, comma-separated; the first internal
 *   prefix that matches, case-insensitively), escape it as Rack::Utils.escape_path
 *   does (and `?` as `%3F`), answer `X-Accel-Redirect: /uri`; with no mapping header
 *   Rack gives up and sends the body itself;
 * - no (or an unknown) type: the app sends the file's bytes itself.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { resolve } from 'node:path';

/** The header Rack::Sendfile would set for `file`, or undefined when the app sends the body. */
export function rackSendfileHeader(request: http.IncomingHttpHeaders, file: string): [string, string] | undefined {
  const type = request['x-sendfile-type'];
  const path = resolve(file);
  if (typeof type !== 'string') return undefined;
  if (/x-sendfile/i.test(type)) return ['x-sendfile', path];
  if (!/x-accel-redirect/i.test(type)) return undefined;
  const mapping = request['x-accel-mapping'];
  if (typeof mapping !== 'string') return undefined;
  let url = path;
  for (const pair of mapping.split(',').map((m) => m.trim())) {
    const [internal, external] = pair.split('=', 2).map((part) => part.trim()) as [string, string | undefined];
    if (external !== undefined && path.toLowerCase().startsWith(internal.toLowerCase())) {
      url = external + path.slice(internal.length);
      break;
    }
  }
  return ['x-accel-redirect', encodeURI(url).replace(/\?/g, '%3F').replace(/#/g, '%23')];
}

/**
 * Answers like a Rails action calling `send_file(file, type:, disposition: 'attachment')`
 * behind Rack::Sendfile: the header and an empty body when the proxy offered a
 * sendfile type, else the file itself. `extra` headers are added (Cache-Control...).
 */
export function sendFileLikeRails(req: http.IncomingMessage, res: http.ServerResponse, file: string, contentType: string, extra: Record<string, string> = {}): void {
  const name = file.slice(file.lastIndexOf('/') + 1);
  const headers: Record<string, string> = { 'content-type': contentType, 'content-disposition': `attachment; filename="${name}"`, ...extra };
  const sendfile = rackSendfileHeader(req.headers, file);
  if (sendfile !== undefined) {
    res.writeHead(200, { ...headers, [sendfile[0]]: sendfile[1], 'content-length': '0' });
    res.end();
    return;
  }
  const body = readFileSync(file);
  res.writeHead(200, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}
