/**
 * `log_requests = true`: one access-log line per exchange on stdout, written by
 * the proxy thread itself through a LogSink (batched, bounded; see log-sink.ts).
 *
 * @module
 */
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import type { LogSink } from '../log-sink.js';

export class AccessLogFilter implements Filter {
  readonly name = 'log_requests';
  readonly #sink: LogSink;

  constructor(sink: LogSink) {
    this.#sink = sink;
  }

  done(x: Exchange): void {
    const ms = (performance.now() - x.startedAt).toFixed(1);
    const route = x.route;
    this.#sink.writeLine(
      `${x.clientIp || '-'} "${x.method} ${x.path}${x.query ? '?' + x.query : ''}" ` +
        `${x.status} ${x.sink.bytesSent} ${ms}ms ` +
        `upstream=${route?.spec.upstream ?? '-'} instance=${x.lastInstance?.id ?? '-'} thread=${x.thread}`,
    );
  }
}
