/**
 * `x_sendfile_enabled`: X-Sendfile and X-Accel-Redirect (src/files/x-sendfile.ts).
 *
 * - upstreamRequest: tells the app which header to answer with (`X-Sendfile-Type`,
 *   and `X-Accel-Mapping` when mappings are configured), replacing any a client sent;
 * - responseHead: when a 200 names a file, the head is rewritten to describe the
 *   file and the upstream's body is replaced by it (`x.replaceBody`); a file that may
 *   not be served gets 403 (404 when missing) with a plain-text body, and the path
 *   the app named is logged, never sent.
 *
 * It comes before compression in a route's chain, so a compressible file is
 * compressed like any response (never a 206).
 *
 * @module
 */
import type { XSendfile } from '../files/x-sendfile.js';
import { createLogger } from '../log.js';
import { BufferBodySource, type BodySource } from '../pipeline/body.js';
import { statusBodies } from '../pipeline/errors.js';
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import type { ResponseHead } from '../pipeline/response-head.js';

const log = createLogger('x-sendfile');

const EMPTY_BODY: BodySource = new BufferBodySource(Buffer.alloc(0));
const refusalBodies: Readonly<Record<403 | 404, Buffer>> = { 403: Buffer.from('Forbidden\n'), 404: Buffer.from(statusBodies[404]!) };

export class XSendfileFilter implements Filter {
  readonly name = 'x_sendfile';
  readonly #sendfile: XSendfile;

  constructor(sendfile: XSendfile) {
    this.#sendfile = sendfile;
  }

  upstreamRequest(_x: Exchange, headers: string[]): void {
    this.#sendfile.applyUpstreamHeaders(headers);
  }

  responseHead(x: Exchange, head: ResponseHead): void {
    const outcome = this.#sendfile.respond(x.method, x, head);
    switch (outcome.kind) {
      case 'none':
      case 'stripped':
        return;
      case 'serve':
        x.replaceBody(outcome.body ?? EMPTY_BODY);
        return;
      case 'refused': {
        log.warn(`${x.method} ${x.path}: the upstream named ${JSON.stringify(outcome.target)}, refused (${outcome.reason}): answered ${outcome.status}`);
        const body = refusalBodies[outcome.status];
        head.set('content-length', String(body.length));
        x.replaceBody(new BufferBodySource(body));
        return;
      }
    }
  }
}
