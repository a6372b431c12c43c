/**
 * X-Sendfile and X-Accel-Redirect: the upstream names a file, warpdrive serves it.
 *
 * Request side: warpdrive tells the app what it understands, in the headers
 * Rack::Sendfile reads. With `x_accel_mappings` configured it sends
 * `X-Sendfile-Type: X-Accel-Redirect` and `X-Accel-Mapping: /var/app/private/=/private/`
 * (comma-separated, one `root=prefix` pair per mapping), so the app answers with a
 * URI under a prefix; otherwise `X-Sendfile-Type: X-Sendfile`, and the app answers
 * with an absolute path. Any such header a client sent was dropped when the request
 * was captured: a client must not be able to make the app hand out internal paths.
 *
 * Response side, for a 200 carrying one of the headers:
 * - `X-Sendfile: /abs/path`: the raw absolute path, as Rack writes it;
 * - `X-Accel-Redirect: /uri`: percent-decoded once (Rack escapes it), the longest
 *   matching mapping prefix replaced by its root; a URI matching no mapping is read
 *   as a file path, which is what Rack sends when no mapping applied. A query
 *   string (`?...`) is ignored.
 *
 * The path must be below one of the allowed roots (`x_sendfile_roots` and every
 * mapping's root) before anything is opened, and the file's real path (symlinks
 * followed) must be too (open-confined.ts). Then the upstream's body is dropped and
 * the file served as GET would serve it (HEAD stays HEAD; nginx turns the request
 * into a GET the same way): validators, conditional requests, ranges. The upstream's
 * other headers (Content-Disposition, Cache-Control, Set-Cookie...) are kept; its
 * Content-Type is kept, or set from the file's extension when it sent none.
 *
 * Answers when the file is not served (the internal path never reaches the client;
 * the caller logs it): 404 when nothing exists at the path, 403 for every refusal
 * (outside the roots, a symlink out of them, a directory, a device or FIFO, `..`,
 * an encoded `/`). On a status other than 200 the headers are removed and the
 * upstream's body passes.
 *
 * @module
 */
import type { BodySource } from '../pipeline/body.js';
import type { ResponseHead } from '../pipeline/response-head.js';
import type { RequestHeaders } from './conditional.js';
import { contentTypeFor } from './content-type.js';
import { FileBodySource } from './file-body-source.js';
import { buildFileResponse } from './file-response.js';
import type { FileRoot } from './file-root.js';
import { describeFileRefusal, FileRefusal, openConfined } from './open-confined.js';
import { describeUrlPathRefusal, filePathFromUrl } from './url-path.js';
import { fileETag, httpDate, wholeSeconds } from './validators.js';

/** `x_accel_mappings` entry: URIs under `prefix` are files under `root`. */
export interface AccelMapping {
  /** Starts and ends with `/`. */
  readonly prefix: string;
  readonly root: FileRoot;
}

export type XSendfileOutcome =
  /** No X-Sendfile/X-Accel-Redirect: nothing to do. */
  | { readonly kind: 'none' }
  /** The header came with a status other than 200: removed, the upstream body passes. */
  | { readonly kind: 'stripped' }
  /** The head now describes the file; drop the upstream body and send `body` (undefined: none). */
  | { readonly kind: 'serve'; readonly body: BodySource | undefined; readonly contentLength: number; readonly file: string }
  /** Not served: answer `status` with an empty body; log `reason` and `target` (never sent). */
  | { readonly kind: 'refused'; readonly status: 403 | 404; readonly reason: string; readonly target: string };

const NONE: XSendfileOutcome = Object.freeze({ kind: 'none' });
const STRIPPED: XSendfileOutcome = Object.freeze({ kind: 'stripped' });

/** Upstream headers that describe the upstream's (dropped) body, not the file. */
const BODY_HEADERS = ['content-length', 'content-range', 'content-encoding', 'accept-ranges', 'etag', 'last-modified'];
/** nginx never passes `X-Accel-*` response headers on; neither does warpdrive on a file it serves. */
const ACCEL_HEADERS = ['x-sendfile', 'x-accel-redirect', 'x-accel-buffering', 'x-accel-charset', 'x-accel-expires', 'x-accel-limit-rate'];

export class XSendfile {
  /** Flat `[name, value, ...]` to send upstream (names lowercase). */
  readonly upstreamHeaders: readonly string[];
  readonly #roots: readonly FileRoot[];
  /** Longest prefix first, so `/private/big/` wins over `/private/`. */
  readonly #mappings: readonly AccelMapping[];

  constructor(roots: readonly FileRoot[], mappings: readonly AccelMapping[]) {
    this.#mappings = [...mappings].sort((a, b) => b.prefix.length - a.prefix.length);
    this.#roots = [...roots, ...mappings.map((m) => m.root)];
    this.upstreamHeaders =
      mappings.length === 0
        ? ['x-sendfile-type', 'X-Sendfile']
        : ['x-sendfile-type', 'X-Accel-Redirect', 'x-accel-mapping', mappings.map((m) => `${withSlash(m.root.path)}=${m.prefix}`).join(',')];
  }

  /**
   * Adds warpdrive's X-Sendfile-Type (and X-Accel-Mapping) to a flat upstream header
   * list. A client's own never get this far: the request capture drops them
   * (RequestHeaderKind.SendfileControl), whether X-Sendfile is on or not.
   */
  applyUpstreamHeaders(headers: string[]): void {
    const own = this.upstreamHeaders;
    for (let i = 0; i < own.length; i++) headers.push(own[i]!);
  }

  /** Looks at a response head; serves the file it names, if any (see the module comment). */
  respond(method: string, requestHeaders: RequestHeaders, head: ResponseHead): XSendfileOutcome {
    const sendfile = head.get('x-sendfile');
    const accel = sendfile === undefined ? head.get('x-accel-redirect') : undefined;
    if (sendfile === undefined && accel === undefined) return NONE;
    if (head.status !== 200) {
      for (const name of ACCEL_HEADERS) head.remove(name);
      return STRIPPED;
    }
    const target = sendfile ?? accel!;
    const path = sendfile !== undefined ? this.#sendfilePath(sendfile) : this.#accelPath(accel!);
    if (typeof path !== 'string') return this.#refuse(head, 403, path.reason, target);

    const opened = openConfined(path, this.#roots);
    if (opened.kind === 'missing') return this.#refuse(head, 404, 'no such file', target);
    if (opened.kind === 'directory') return this.#refuse(head, 403, describeFileRefusal(FileRefusal.Directory), target);
    if (opened.kind === 'refused') return this.#refuse(head, 403, describeFileRefusal(opened.reason), target);

    const { fd, stats } = opened;
    const upstreamType = head.get('content-type');
    const validators = { etag: fileETag(stats.size, stats.mtimeMs), lastModified: httpDate(stats.mtimeMs), lastModifiedSecs: wholeSeconds(stats.mtimeMs) };
    const response = buildFileResponse(method === 'HEAD' ? 'HEAD' : 'GET', requestHeaders, {
      size: stats.size,
      contentType: upstreamType ?? contentTypeFor(path),
      validators,
    });

    for (const name of BODY_HEADERS) head.remove(name);
    for (const name of ACCEL_HEADERS) head.remove(name);
    head.status = response.status;
    if (response.status !== 200 && response.status !== 206) head.remove('content-type');
    const headers = response.headers;
    for (let i = 0; i < headers.length; i += 2) head.set(headers[i]!, headers[i + 1]!);
    head.set('content-length', String(response.contentLength));

    if (response.parts.length === 0) {
      new FileBodySource(fd, response.parts).cancel(); // closes fd
      return { kind: 'serve', body: undefined, contentLength: response.contentLength, file: path };
    }
    return { kind: 'serve', body: new FileBodySource(fd, response.parts), contentLength: response.contentLength, file: path };
  }

  /** An X-Sendfile value: an absolute path, no dot segments, below a root. */
  #sendfilePath(value: string): string | { reason: string } {
    if (value.charCodeAt(0) !== 47) return { reason: 'not an absolute path' };
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code < 32 || code === 127) return { reason: 'a control character (NUL included) in the path' };
    }
    const segments = value.split('/');
    if (segments.some((s) => s === '.' || s === '..')) return { reason: 'a "." or ".." segment' };
    return this.#confinedLexically(value);
  }

  /** An X-Accel-Redirect URI: mapped by prefix (or read as a path), decoded once, below a root. */
  #accelPath(value: string): string | { reason: string } {
    const question = value.indexOf('?');
    const uri = question < 0 ? value : value.slice(0, question);
    const mapping = this.#mappings.find((m) => uri.startsWith(m.prefix));
    const relative = filePathFromUrl(mapping === undefined ? uri : `/${uri.slice(mapping.prefix.length)}`, true);
    if (typeof relative !== 'string') return { reason: describeUrlPathRefusal(relative) };
    if (mapping === undefined) return this.#confinedLexically(`/${relative}`);
    return `${withSlash(mapping.root.path)}${relative}`;
  }

  #confinedLexically(path: string): string | { reason: string } {
    return this.#roots.some((root) => root.containsLexically(path)) ? path : { reason: describeFileRefusal(FileRefusal.OutsideRoots) };
  }

  #refuse(head: ResponseHead, status: 403 | 404, reason: string, target: string): XSendfileOutcome {
    for (const name of BODY_HEADERS) head.remove(name);
    for (const name of ACCEL_HEADERS) head.remove(name);
    // A download's name or type would dress the error page up as the file.
    head.remove('content-disposition');
    head.set('content-type', 'text/plain; charset=utf-8');
    head.status = status;
    return { kind: 'refused', status, reason, target };
  }
}

function withSlash(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}
