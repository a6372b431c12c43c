/**
 * `log_requests = true`: one access-log line per exchange, in the format chosen by
 * `log_format` (access-log-format.ts), written by the proxy thread itself through
 * a LogSink (batched, bounded; see log-sink.ts) to stdout or `log_file`.
 *
 * @module
 */
import type { Exchange } from '../pipeline/exchange.js';
import type { Filter } from '../pipeline/filter.js';
import type { LogSink } from '../log-sink.js';
import { formatCombined, formatJson } from './access-log-format.js';

export class AccessLogFilter implements Filter {
  readonly name = 'log_requests';
  readonly #sink: LogSink;
  readonly #format: typeof formatCombined;

  constructor(sink: LogSink, format: 'combined' | 'json' = 'combined') {
    this.#sink = sink;
    this.#format = format === 'json' ? formatJson : formatCombined;
  }

  done(x: Exchange): void {
    this.#sink.writeLine(this.#format(x, performance.now(), Date.now()));
  }
}
