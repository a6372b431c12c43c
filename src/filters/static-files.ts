/**
 * `static_root`: serve a route's files before its upstream, like nginx's
 * `try_files $uri $uri/ @app` (the lookup and its rules: src/files/static-files.ts).
 *
 * - a file: answered from here, never reaching the upstream (`x.serve`, so the
 *   compression filter still sees the head);
 * - a directory asked for without its trailing slash: 301 to the path with one;
 * - refused (a symlink out of the root, a device, a FIFO...): 404, logged;
 * - anything else (no such file, other methods, WebSocket upgrades) goes on to the
 *   upstream; on a files-only route (no upstream) it gets 404, or 405 for methods
 *   other than GET and HEAD.
 *
 * @module
 */
import { StaticFiles } from '../files/static-files.js';
import type { FileResponse } from '../files/file-response.js';
import { createLogger } from '../log.js';
import { BufferBodySource, type BodySource } from '../pipeline/body.js';
import type { Exchange } from '../pipeline/exchange.js';
import { Verdict, type Filter } from '../pipeline/filter.js';
import { ResponseHead } from '../pipeline/response-head.js';

const log = createLogger('static');

const textPlain = ['content-type', 'text/plain; charset=utf-8'] as const;
const notAllowedHeaders = [...textPlain, 'allow', 'GET, HEAD'] as const;
/** The body of responses without one (HEAD, 304, 412, 416): ends at once. */
const EMPTY_BODY: BodySource = new BufferBodySource(Buffer.alloc(0));

/** The head the sink writes for a file response: its headers and its length. */
function headOf(response: FileResponse): ResponseHead {
  const pairs = [...response.headers];
  // A 304 describes no body; any other status has the length of the one it sends (or, for HEAD, would send).
  if (response.status !== 304) pairs.push('content-length', String(response.contentLength));
  return new ResponseHead(response.status, '', undefined, pairs);
}

export class StaticFilesFilter implements Filter {
  readonly name = 'static_root';
  readonly #files: StaticFiles;
  /** No upstream behind the route: what is not a file is answered here. */
  readonly #filesOnly: boolean;

  constructor(files: StaticFiles, filesOnly: boolean) {
    this.#files = files;
    this.#filesOnly = filesOnly;
  }

  request(x: Exchange): Verdict {
    if (x.upgradeContext !== undefined) return this.#filesOnly ? this.#notFound(x) : Verdict.Continue;
    const outcome = this.#files.lookup(x.method, x.path, x.route!.upstreamPath(x.path), x.query, x);
    switch (outcome.kind) {
      case 'serve':
        x.serve(headOf(outcome.response), outcome.body ?? EMPTY_BODY);
        return Verdict.Answered;
      case 'redirect':
        x.respond(301, ['location', outcome.location, ...textPlain], 'Moved Permanently\n');
        return Verdict.Answered;
      case 'refused':
        log.warn(`refused ${x.method} ${x.path} under ${this.#files.root.path}: ${outcome.reason}`);
        return this.#notFound(x);
      case 'pass':
        if (!this.#filesOnly) return Verdict.Continue;
        if (x.method !== 'GET' && x.method !== 'HEAD') {
          x.respond(405, notAllowedHeaders, 'Method Not Allowed\n');
          return Verdict.Answered;
        }
        return this.#notFound(x);
    }
  }

  #notFound(x: Exchange): Verdict {
    x.respond(404, textPlain, 'Not Found\n');
    return Verdict.Answered;
  }
}
