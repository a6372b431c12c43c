/**
 * Active health checks for one instance: `GET <path>` every interval, off the
 * request path, flipping the instance up or down after the configured number of
 * consecutive results.
 *
 * Checks use their own single-connection undici Client rather than the instance's
 * request pool, so a check is never queued behind a busy pool (which would mark a
 * loaded but healthy instance down) and it measures the instance itself.
 *
 * @module
 */
import { Client } from 'undici';
import type { HealthSpec } from '../../config/types.js';
import { createLogger } from '../../log.js';
import { originOf, type Instance } from '../instance.js';

const log = createLogger('health');

const checkHeaders = { 'user-agent': 'warpdrive-health-check' };

/** What one check found: ok, plus a reason worth a log line. */
export interface CheckResult {
  readonly ok: boolean;
  readonly reason: string;
}

export class ActiveHealthChecker {
  readonly #instance: Instance;
  readonly #spec: HealthSpec;
  readonly #client: Client;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #passes = 0;
  #fails = 0;
  #running = false;
  /** Ticks completed, for tests that wait for the next real check instead of sleeping. */
  checks = 0;
  /** Called after every completed check (tests wait on it). */
  onCheck: ((result: CheckResult) => void) | undefined;

  constructor(instance: Instance, spec: HealthSpec) {
    this.#instance = instance;
    this.#spec = spec;
    const a = instance.spec.address;
    this.#client = new Client(originOf(instance.spec), {
      connect: a.kind === 'unix' ? { socketPath: a.socketPath, timeout: spec.timeoutMs } : { timeout: spec.timeoutMs },
      headersTimeout: spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
      // A short idle timeout: between checks the connection would otherwise sit open for one request per interval.
      keepAliveTimeout: Math.min(spec.intervalMs * 2, 60_000),
    });
  }

  /** Runs the first check now, then one per interval until `stop()`. */
  start(): void {
    if (this.#running || this.#abort.signal.aborted) return;
    this.#running = true;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = false;
    await this.#client.destroy();
  }

  #schedule(delayMs: number): void {
    if (this.#abort.signal.aborted) return;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    // Health checks alone must never keep the process alive.
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      // A starting (or restarting) process is the supervisor's business: its checks would only fail.
      if (this.#instance.processReady) {
        const result = await this.check();
        if (this.#abort.signal.aborted) return;
        this.#record(result);
        this.checks++;
        this.onCheck?.(result);
      } else {
        // The next process is judged afresh, like Instance.setProcessReady resets its health.
        this.#passes = 0;
        this.#fails = 0;
      }
    } catch (error) {
      // One bad tick (a bug, an odd response) must never end the loop.
      log.error(`${this.#instance.id} health check crashed: ${(error as Error).message}`);
    } finally {
      // The next check is scheduled after this one ends, so checks never overlap on a slow instance.
      this.#schedule(this.#spec.intervalMs);
    }
  }

  /** One check: GET the path with the timeout, and judge the status. */
  async check(): Promise<CheckResult> {
    const spec = this.#spec;
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(spec.timeoutMs)]);
    try {
      // A user-agent of our own so the application can tell checks from traffic (and keep them out of its logs).
      const response = await this.#client.request({ method: 'GET', path: spec.path, signal, headers: checkHeaders });
      // Drain the body so the connection can be reused for the next check.
      await response.body.dump();
      const status = response.statusCode;
      if (status >= spec.expectStatusMin && status <= spec.expectStatusMax) {
        return { ok: true, reason: `status ${status} from GET ${spec.path}` };
      }
      return { ok: false, reason: `status ${status} from GET ${spec.path}, expected ${spec.expectStatusMin}-${spec.expectStatusMax}` };
    } catch (error) {
      const e = error as Error & { code?: string };
      const timedOut = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT';
      const what = timedOut ? `no answer within ${spec.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`;
      return { ok: false, reason: `GET ${spec.path} failed: ${what}` };
    }
  }

  #record(result: CheckResult): void {
    const instance = this.#instance;
    const spec = this.#spec;
    const label = `${instance.id} (${instance.address})`;
    if (result.ok) {
      this.#fails = 0;
      this.#passes++;
      instance.healthCheckPassed();
      // From 'unknown' one pass suffices: the instance is already being served, this only confirms it.
      if (instance.health === 'unknown' || (instance.health === 'down' && this.#passes >= spec.healthyThreshold)) {
        const was = instance.health;
        instance.setHealth('up');
        if (was === 'down') log.info(`${label} is up: ${this.#passes} consecutive passing checks (${result.reason})`);
        else log.debug(`${label} is up: ${result.reason}`);
      }
    } else {
      this.#passes = 0;
      this.#fails++;
      if (instance.health !== 'down' && this.#fails >= spec.unhealthyThreshold) {
        instance.setHealth('down');
        log.warn(`${label} is down: ${this.#fails === 1 ? '1 failed check' : `${this.#fails} consecutive failed checks`} (last: ${result.reason})`);
      }
    }
  }
}
