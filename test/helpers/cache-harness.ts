/**
 * An in-process stand-in for warpdrive's request pipeline, just enough to drive
 * the cache filter's hooks in the pipeline's order (request, upstreamRequest,
 * responseHead with body transforms, upstreamFailed, done) between a real
 * node:http server and a real upstream. Tests of the cache rules use it with
 * counted upstream requests; the end-to-end tests use the real CLI.
 *
 * @module
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { BodySource, BodyWriter, CacheExchange, CacheResponseHead } from '../../src/cache/cache-exchange.js';
import type { RevalidationRequest, RevalidationResponse, ResponseCache } from '../../src/cache/response-cache.js';
import { CacheFilter, type BackgroundFetch } from '../../src/filters/cache.js';
import { Verdict } from '../../src/pipeline/filter.js';
import { EncodedHeaders } from '../../src/pipeline/headers.js';

/** Connection-specific fields, dropped in both directions as the pipeline does (RFC 9110 7.6.1). */
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function withoutHopByHop(raw: readonly string[], lowercase: boolean): string[] {
  const listed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const name of raw[i + 1]!.split(',')) listed.add(name.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (hopByHop.has(lower) || listed.has(lower)) continue;
    out.push(lowercase ? lower : raw[i]!, raw[i + 1]!);
  }
  return out;
}

class Head implements CacheResponseHead {
  status: number;
  statusText: string;
  readonly pairs: string[];

  constructor(status: number, statusText: string, pairs: string[]) {
    this.status = status;
    this.statusText = statusText;
    this.pairs = pairs;
  }

  get contentLength(): number {
    for (let i = 0; i < this.pairs.length; i += 2) {
      if (this.pairs[i]!.toLowerCase() === 'content-length' && /^\d+$/.test(this.pairs[i + 1]!)) return Number(this.pairs[i + 1]);
    }
    return -1;
  }
}

/** The client side: writes into node's ServerResponse with its backpressure. */
class ResponseWriter implements BodyWriter {
  onDrain: (() => void) | undefined = undefined;
  readonly #res: http.ServerResponse;

  constructor(res: http.ServerResponse) {
    this.#res = res;
    res.on('drain', () => this.onDrain?.());
  }

  write(chunk: Buffer): boolean {
    return this.#res.write(chunk);
  }

  end(): void {
    this.#res.end();
  }

  abort(): void {
    this.#res.destroy();
  }
}

class HarnessExchange implements CacheExchange {
  readonly method: string;
  readonly scheme = 'http';
  readonly upgradeContext = undefined;
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly upstreamHeaders: string[];
  #locals: unknown[] = [];
  readonly #harness: CacheHarness;
  readonly #req: http.IncomingMessage;
  readonly #res: http.ServerResponse;
  readonly #body: Buffer;
  #replaced: BodySource | undefined;
  #transforms: ((next: BodyWriter) => BodyWriter)[] = [];
  #finished = false;

  constructor(harness: CacheHarness, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) {
    this.#harness = harness;
    this.#req = req;
    this.#res = res;
    this.#body = body;
    this.method = req.method!.toUpperCase();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.query = q < 0 ? '' : url.slice(q + 1);
    this.upstreamHeaders = withoutHopByHop(req.rawHeaders, true);
    this.host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    res.on('close', () => this.#harness.filter.done(this));
  }

  local<T>(slot: number): T | undefined {
    return this.#locals[slot] as T | undefined;
  }

  setLocal(slot: number, value: unknown): void {
    this.#locals[slot] = value;
  }

  respond(status: number, headers: readonly string[] | EncodedHeaders, body: string | Buffer, statusText = ''): void {
    // A hit's lines come encoded, as the sink takes them; written back as the same bytes.
    const pairs = headers instanceof EncodedHeaders ? headers.bytes.map((b) => b.toString('latin1')) : headers;
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    // As the sink does: a 304 gets no Content-Length unless it has a body to describe.
    this.#writeHead(status, statusText, pairs, status === 304 && bytes.length === 0 ? -1 : bytes.length);
    if (this.method === 'HEAD' || status === 304 || status === 204) this.#res.end();
    else this.#res.end(bytes);
  }

  resume(): void {
    void this.forward();
  }

  replaceBody(source: BodySource): void {
    this.#replaced = source;
  }

  transformBody(wrap: (next: BodyWriter) => BodyWriter): void {
    this.#transforms.push(wrap);
  }

  /** Sends the request upstream and the response back through the filter. */
  async forward(): Promise<void> {
    const filter = this.#harness.filter;
    const headers = [...this.upstreamHeaders];
    filter.upstreamRequest(this, headers);
    this.#harness.upstreamRequests++;
    let upstream: http.IncomingMessage;
    try {
      upstream = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const request = http.request({
          host: '127.0.0.1',
          port: this.#harness.upstreamPort,
          method: this.method,
          path: this.query === '' ? this.path : `${this.path}?${this.query}`,
          headers: headers,
          agent: this.#harness.agent,
        });
        request.on('response', resolve);
        request.on('error', reject);
        request.end(this.#body.length > 0 ? this.#body : undefined);
      });
    } catch {
      if (!filter.upstreamFailed(this, { status: 502 })) this.respond(502, [], 'Bad Gateway\n');
      return;
    }
    const head = new Head(upstream.statusCode!, upstream.statusMessage ?? '', withoutHopByHop(upstream.rawHeaders, false));
    filter.responseHead(this, head);
    if (this.#replaced !== undefined) {
      upstream.resume();
      const source = this.#replaced;
      this.#writeHead(head.status, head.statusText, head.pairs, source.length);
      this.#writeBody(source, this.#transforms);
      return;
    }
    this.#writeHead(head.status, head.statusText, head.pairs, head.contentLength);
    let writer: BodyWriter = new ResponseWriter(this.#res);
    for (const wrap of this.#transforms) writer = wrap(writer);
    const out = writer;
    if (this.method === 'HEAD' || head.status === 304 || head.status === 204) {
      // No body, but the transforms still see the (empty) body end: a stored 204 is complete.
      upstream.resume();
      out.end();
      return;
    }
    upstream.on('data', (chunk: Buffer) => {
      if (!out.write(chunk)) {
        upstream.pause();
        out.onDrain = () => upstream.resume();
      }
    });
    upstream.on('end', () => out.end());
    upstream.on('error', () => out.abort());
    upstream.on('aborted', () => out.abort());
  }

  #writeHead(status: number, statusText: string, pairs: readonly string[], length: number): void {
    if (this.#finished) throw new Error('the harness answered one request twice');
    this.#finished = true;
    const out: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i]!.toLowerCase() !== 'content-length') out.push(pairs[i]!, pairs[i + 1]!);
    if (length >= 0 && status !== 304 && status !== 204) out.push('Content-Length', String(length));
    this.#res.writeHead(status, statusText === '' ? undefined : statusText, out);
  }

  #writeBody(source: BodySource, transforms: ((next: BodyWriter) => BodyWriter)[]): void {
    if (this.method === 'HEAD') {
      this.#res.end();
      return;
    }
    let writer: BodyWriter = new ResponseWriter(this.#res);
    for (const wrap of transforms) writer = wrap(writer);
    source.start(writer);
  }
}

export class CacheHarness {
  readonly filter: CacheFilter;
  readonly upstreamPort: number;
  readonly agent = new http.Agent({ keepAlive: true });
  readonly server: http.Server;
  /** Requests the harness sent upstream (the upstream's own count is what tests assert). */
  upstreamRequests = 0;
  port = 0;

  constructor(cache: ResponseCache, upstreamPort: number, defaultTtlMs: number | undefined, background?: BackgroundFetch) {
    this.filter = new CacheFilter(cache, defaultTtlMs, background);
    this.upstreamPort = upstreamPort;
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const x = new HarnessExchange(this, req, res, Buffer.concat(chunks));
        const verdict = this.filter.request(x);
        if (verdict === Verdict.Continue) void x.forward();
      });
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Background revalidation over node:http, as the pipeline's upstream dispatch does it. */
export class HttpRevalidator implements BackgroundFetch {
  readonly #port: number;
  readonly #agent = new http.Agent({ keepAlive: true });
  /** What RouteBackgroundFetch says of a route with compression or X-Sendfile: false. */
  readonly #storable: boolean | undefined;

  constructor(upstreamPort: number, storable?: boolean) {
    this.#port = upstreamPort;
    this.#storable = storable;
  }

  fetch(_x: CacheExchange, request: RevalidationRequest): Promise<RevalidationResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: this.#port,
        method: 'GET',
        path: request.query === '' ? request.path : `${request.path}?${request.query}`,
        headers: [...request.headers],
        agent: this.#agent,
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          length += chunk.length;
          if (length > request.maxBodyBytes) {
            res.destroy();
            reject(new Error('body too large'));
          } else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode!, statusText: res.statusMessage ?? '', headers: withoutHopByHop(res.rawHeaders, false), body: Buffer.concat(chunks), storable: this.#storable }),
        );
        res.on('error', reject);
      });
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
