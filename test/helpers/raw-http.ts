/**
 * A raw-socket HTTP/1.1 client for robustness tests: it writes exactly the bytes
 * it is given (malformed request lines, bare LF, duplicate framing headers...)
 * and reports what came back: parsed responses, or that the server closed or
 * reset the connection without one. Real HTTP clients refuse to send most of
 * these requests, which is why this exists.
 *
 * Every exchange is bounded by a deadline, so a server that stalls shows up as
 * `timedOut: true` in the result instead of hanging the suite.
 *
 * @module
 */
import net from 'node:net';

export interface RawResponse {
  /** `HTTP/1.1 400 Bad Request` */
  readonly statusLine: string;
  readonly status: number;
  /** Header names lowercased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface RawExchange {
  /** Complete responses, in order (1xx interim responses included). */
  readonly responses: RawResponse[];
  /** The server ended the connection (FIN or reset) before the deadline. */
  readonly closedByServer: boolean;
  /** The connection ended with an error such as ECONNRESET. */
  readonly errorCode: string | undefined;
  /** The deadline passed with the connection still open and no final response. */
  readonly timedOut: boolean;
  /** Everything the server sent, as latin1 text. */
  readonly raw: string;
}

export interface RawOptions {
  /** Give up after this long (default 1500 ms). */
  readonly timeoutMs?: number;
  /**
   * 'response': resolve as soon as one final (non-1xx) response is complete (default).
   * 'close': keep reading until the server closes or the deadline passes (to see
   * whether a second, smuggled response follows the first).
   */
  readonly until?: 'response' | 'close';
  /** Half-close our side after writing (signals end of request bytes). */
  readonly endAfterWrite?: boolean;
  /**
   * Write the first `splitAt` bytes, then the rest `splitDelayMs` later (default 50),
   * so that the server reads the request in two pieces, as it does whenever a header
   * block spans several TCP segments on a real network (loopback's 64 KiB segments
   * otherwise deliver a test's request in one read).
   */
  readonly splitAt?: number;
  readonly splitDelayMs?: number;
}

/**
 * What one exchange looked like, in a word: a status such as `400`; `closed` (the
 * server closed without a response); `reset`; or `held-open` (no response, and the
 * connection still open at the deadline: the server is waiting for more bytes).
 */
export function outcomeOf(exchange: RawExchange): string {
  const final = exchange.responses.find((r) => r.status >= 200);
  if (final) return String(final.status);
  if (exchange.timedOut) return 'held-open';
  if (exchange.errorCode === 'ECONNRESET') return 'reset';
  return 'closed';
}

/** Parses as many complete responses as `text` holds; `complete` is false if the last one is still arriving. */
export function parseResponses(text: string): { responses: RawResponse[]; complete: boolean; bodyUntilClose: boolean } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return { responses, complete: false, bodyUntilClose: false };
    const lines = text.slice(at, headEnd).split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = headEnd + 4;
    let body = '';
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      // no body
    } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      // Walk the chunks; the response is complete at the zero-size chunk plus its trailer CRLF.
      let pos = bodyStart;
      for (;;) {
        const lineEnd = text.indexOf('\r\n', pos);
        if (lineEnd < 0) return { responses, complete: false, bodyUntilClose: false };
        const size = parseInt(text.slice(pos, lineEnd), 16);
        if (Number.isNaN(size)) return { responses, complete: false, bodyUntilClose: false };
        if (size === 0) {
          const trailerEnd = text.indexOf('\r\n', lineEnd + 2);
          if (trailerEnd < 0) return { responses, complete: false, bodyUntilClose: false };
          pos = trailerEnd + 2;
          break;
        }
        if (text.length < lineEnd + 2 + size + 2) return { responses, complete: false, bodyUntilClose: false };
        body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        pos = lineEnd + 2 + size + 2;
      }
      bodyStart = pos;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (text.length < bodyStart + length) return { responses, complete: false, bodyUntilClose: false };
      body = text.slice(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      // Neither length nor chunked: the body runs until the server closes.
      responses.push({ statusLine, status, headers, body: text.slice(bodyStart) });
      return { responses, complete: false, bodyUntilClose: true };
    }
    responses.push({ statusLine, status, headers, body });
    at = bodyStart;
  }
  return { responses, complete: true, bodyUntilClose: false };
}

/** Connects to 127.0.0.1:`port`, writes `request`, and reports what came back. */
export function rawExchange(port: number, request: string | Buffer, options: RawOptions = {}): Promise<RawExchange> {
  const timeoutMs = options.timeoutMs ?? 1500;
  const until = options.until ?? 'response';
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let errorCode: string | undefined;
    let settled = false;

    const finish = (closedByServer: boolean, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const parsed = parseResponses(raw);
      socket.destroy();
      resolve({ responses: parsed.responses, closedByServer, errorCode, timedOut, raw });
    };

    const timer = setTimeout(() => {
      // A body that runs until close, or a keep-alive connection after a complete
      // response in 'close' mode, is not a stall: the responses are all there.
      const parsed = parseResponses(Buffer.concat(chunks).toString('latin1'));
      const hasFinal = parsed.responses.some((r) => r.status >= 200);
      finish(false, !hasFinal);
    }, timeoutMs);

    socket.on('connect', () => {
      const bytes = typeof request === 'string' ? Buffer.from(request, 'latin1') : request;
      if (options.splitAt === undefined) {
        socket.write(bytes);
        if (options.endAfterWrite) socket.end();
        return;
      }
      socket.write(bytes.subarray(0, options.splitAt));
      setTimeout(() => {
        if (socket.destroyed) return;
        socket.write(bytes.subarray(options.splitAt));
        if (options.endAfterWrite) socket.end();
      }, options.splitDelayMs ?? 50);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (until !== 'response') return;
      const parsed = parseResponses(Buffer.concat(chunks).toString('latin1'));
      if (parsed.complete && parsed.responses.some((r) => r.status >= 200)) finish(false, false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      errorCode = error.code;
    });
    socket.on('close', () => finish(true, false));
  });
}
