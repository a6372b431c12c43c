/**
 * One proxy thread's share of a running warpdrive: the listening uWS app, the
 * request pipeline, the WebSocket gateway, and the current configuration
 * generation (upstreams, routes, filters, router). The main thread runs one;
 * with `server.worker_threads = N`, N - 1 proxy workers (threads/proxy-worker.ts)
 * run one each on the same port. Everything here belongs to the thread that
 * built it: nothing is shared, so the hot path takes no lock.
 *
 * `reload(plan)` builds the next generation (reusing unchanged upstreams),
 * swaps it into the pipeline, and retires the previous one in the background:
 * once its last request has ended, the upstreams only it used are closed.
 *
 * @module
 */
import type { ThreadCache } from './cache/thread-cache.js';
import type { RuntimePlan } from './config/types.js';
import { ThreadServices } from './filters/index.js';
import { startIngress, type IngressServer, type ListenMode } from './ingress/server.js';
import { TlsServer } from './ingress/tls-server.js';
import type { ChallengeAnswers } from './tls/challenge-board.js';
import type { InstalledCertificate } from './tls/live-files.js';
import { ThreadTls } from './tls/thread-tls.js';
import { createLogger } from './log.js';
import { snapshotInstances, type ThreadSnapshot } from './metrics/thread-snapshot.js';
import { Pipeline } from './pipeline/pipeline.js';
import { Generation } from './runtime/generation.js';
import { linkSupervisor, type SupervisorSource, type Upstream } from './upstream/index.js';
import { WebSocketGateway } from './websocket/gateway.js';

const log = createLogger('warpdrive');

/** How long a stop waits for the access log to reach stdout. */
const ACCESS_LOG_FLUSH_MS = 2_000;

/** How a thread follows health and process readiness for the upstreams a generation creates. */
export interface GenerationHooks {
  /**
   * Process readiness for supervised upstreams, replaying the present on subscribe;
   * absent when nothing is supervised here.
   */
  readonly supervisor: () => SupervisorSource | undefined;
  /**
   * Whether this thread probes its instances itself. Proxy workers do not: the main
   * thread's checks are relayed to them (threads/health-relay.ts).
   */
  readonly activeHealthChecks: boolean;
  /** Called with each new generation before it serves (health relays attach here). */
  readonly onGeneration?: (generation: Generation, previous: Generation | undefined) => void;
}

/** What a proxy thread needs to serve HTTPS (`[tls] enabled`). */
export interface StackTlsOptions {
  /** Concrete (reserved by the main thread): every listener generation joins it with SO_REUSEPORT. */
  readonly httpsPort: number;
  /** ACME domains, to tell "first certificate pending" from "no certificate for this name". */
  readonly acmeDomains: readonly string[];
  readonly certificates: readonly InstalledCertificate[];
  readonly challenges: ChallengeAnswers;
}

export interface ProxyStackOptions extends GenerationHooks {
  /** The port to listen on (0: any free port). */
  readonly port: number;
  readonly tls?: StackTlsOptions | undefined;
  readonly listen: ListenMode;
  /** 0 on the main thread, 1.. on proxy workers; shown as `thread=` in the access log. */
  readonly thread: number;
}

export class ProxyStack {
  readonly pipeline: Pipeline;
  readonly #services: ThreadServices;
  readonly #hooks: GenerationHooks;
  readonly #websockets: WebSocketGateway;
  readonly #retiring = new Set<Promise<void>>();
  /** Instances an operator drained (admin API), by id: applied to every generation built from now on. */
  #drained: ReadonlySet<string> = new Set();
  readonly #thread: number;
  #ingress: IngressServer | undefined;
  #tlsServer: TlsServer | undefined;
  #unlinkSupervisor: (() => void) | undefined;
  /** The drain ran out of time: upstream connections are destroyed, not waited for. */
  #cutAtShutdown = false;
  /** ` on proxy thread N` for the log lines of workers; '' on the main thread. */
  readonly #where: string;

  private constructor(plan: RuntimePlan, options: ProxyStackOptions) {
    this.#services = new ThreadServices(options.thread, plan);
    this.#thread = options.thread;
    // Before the first generation: its filters (HTTPS redirect) read the thread's TLS state.
    if (options.tls !== undefined) {
      const { httpsPort, acmeDomains, challenges, certificates } = options.tls;
      this.#services.tls = new ThreadTls(httpsPort, acmeDomains, challenges, certificates);
    }
    this.#hooks = options;
    this.#where = options.thread === 0 ? '' : ` on proxy thread ${options.thread}`;
    const generation = this.#prepare(Generation.build(plan, this.#services), undefined);
    this.pipeline = new Pipeline(generation, options.thread);
    this.pipeline.setThreadTls(this.#services.tls);
    this.#websockets = new WebSocketGateway(this.pipeline, plan.server);
  }

  static async start(plan: RuntimePlan, options: ProxyStackOptions): Promise<ProxyStack> {
    const stack = new ProxyStack(plan, options);
    try {
      stack.#ingress = await startIngress(plan.server.bindAddress, options.port, stack.pipeline, (app) => stack.#websockets.register(app), options.listen);
      if (options.tls !== undefined) {
        const pipeline = stack.pipeline;
        stack.#tlsServer = await TlsServer.start(plan.server.bindAddress, options.tls.httpsPort, options.tls.certificates, {
          handleSecureRequest: (res, req) => pipeline.handleSecureRequest(res, req),
          registerSecureWebSockets: (app) => stack.#websockets.register(app, 'https'),
        });
      }
    } catch (error) {
      stack.#ingress?.stopListening();
      stack.#ingress?.closeAll();
      await stack.#closeUpstreams(stack.pipeline.generation.upstreams.values());
      await stack.#services.close();
      throw error;
    }
    return stack;
  }

  get port(): number {
    return this.#ingress!.port;
  }

  /** The HTTPS port, when [tls] is on. */
  get httpsPort(): number | undefined {
    return this.#tlsServer?.port;
  }

  /**
   * Serves `certificates` to new HTTPS connections from now on (open ones keep theirs),
   * and redirects plain HTTP to the names they cover.
   */
  async swapCertificates(certificates: readonly InstalledCertificate[]): Promise<void> {
    await this.#tlsServer?.swap(certificates);
    this.#services.tls?.update(certificates);
  }

  get generation(): Generation {
    return this.pipeline.generation;
  }

  get upstreams(): ReadonlyMap<string, Upstream> {
    return this.pipeline.generation.upstreams;
  }

  /** This thread's response cache (`[cache]`), kept across reloads. */
  get cache(): ThreadCache | undefined {
    return this.#services.cache;
  }

  /** Open WebSocket bridges on this thread. */
  get openWebSockets(): number {
    return this.#websockets.openCount;
  }

  /**
   * Swaps in a generation built from `plan`. Requests already running finish on the
   * generation they started with; WebSockets keep their connections.
   */
  reload(plan: RuntimePlan): Generation {
    const previous = this.pipeline.generation;
    const next = this.#prepare(Generation.build(plan, this.#services, previous), previous);
    this.pipeline.swap(next);
    const retiring = previous.retire().then(() => this.#closeUpstreams(previous.upstreamsDroppedBy(this.pipeline.generation)));
    this.#retiring.add(retiring);
    void retiring.finally(() => this.#retiring.delete(retiring));
    return next;
  }

  /** What this thread reports to the admin listener. */
  snapshot(): ThreadSnapshot {
    const generation = this.pipeline.generation;
    return {
      thread: this.#thread,
      generation: generation.id,
      inFlight: this.pipeline.inFlight,
      websockets: this.openWebSockets,
      routes: this.#services.metricsEnabled ? this.#services.metrics.snapshot() : [],
      instances: snapshotInstances(generation),
      recentErrors: this.#services.errorLog.recent(),
      cache: this.#services.cache?.snapshot(),
    };
  }

  /** The instances an operator has drained (by id); the rest are enabled. Applies now and to later generations. */
  setDrained(ids: ReadonlySet<string>): void {
    this.#drained = ids;
    this.#applyDrained(this.pipeline.generation);
  }

  /** SIGUSR1: the access-log file is opened again by name (after logrotate). */
  reopenLogFile(): string {
    return this.#services.reopenLogFile();
  }

  /** Stops accepting connections; connections already open are still served. */
  stopListening(): void {
    this.#ingress?.stopListening();
    this.#tlsServer?.stopListening();
  }

  /**
   * Lets in-flight HTTP requests finish until `deadline` (a `Date.now()` value),
   * then closes WebSockets with 1001 (they never finish by themselves), giving
   * their upstreams what is left until the deadline to answer. Whatever is still
   * open at the deadline is cut (server.shutdown_timeout_secs is a bound: an
   * endless response or a silent upstream cannot hold the stop), and logged.
   */
  async drain(deadline: number, shutdownTimeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.pipeline.drain().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), true))),
    ]);
    clearTimeout(timer);
    const unanswered = await this.#websockets.closeAll(1001, 'server shutting down', Math.max(0, deadline - Date.now()));
    if (unanswered.length > 0) {
      log.warn(`shutdown${this.#where}: cut ${unanswered.length} WebSocket(s) whose upstream did not answer the close in time: ${listed(unanswered)}`);
    }
    if (timedOut) {
      this.#cutAtShutdown = true;
      const cut = this.pipeline.cut(() => this.closeConnections());
      log.warn(`shutdown timeout (${shutdownTimeoutMs} ms) passed${this.#where}: cut ${cut.length} request(s) still in flight: ${listed(cut)}`);
    }
  }

  /** Closes every client connection at once (what `close` ends with). */
  closeConnections(): void {
    this.#ingress?.closeAll();
    this.#tlsServer?.closeAll();
  }

  /** Closes upstream connections, health checks and every remaining client connection. */
  async close(): Promise<void> {
    this.#unlinkSupervisor?.();
    await this.#closeUpstreams(this.pipeline.generation.upstreams.values());
    this.#ingress?.closeAll();
    this.#tlsServer?.closeAll();
    // The last access-log lines, unless stdout is stuck: then they are not worth hanging the exit for.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#services.flush(), new Promise((resolve) => (timer = setTimeout(resolve, ACCESS_LOG_FLUSH_MS)))]);
    clearTimeout(timer);
    await this.#services.close();
  }

  /** Links a new generation to process readiness and health before it serves. */
  #prepare(generation: Generation, previous: Generation | undefined): Generation {
    this.#applyDrained(generation);
    this.#hooks.onGeneration?.(generation, previous);
    const supervisor = this.#hooks.supervisor();
    // Each generation follows the supervisor with its own unit -> instance map (units
    // change on reload); the present is replayed on subscribe, so upstreams created by
    // this generation start from where their processes stand.
    const unlink = supervisor === undefined ? undefined : linkSupervisor(generation.upstreams, supervisor);
    this.#unlinkSupervisor?.();
    this.#unlinkSupervisor = unlink;
    if (this.#hooks.activeHealthChecks) for (const upstream of generation.created) upstream.start();
    return generation;
  }

  #applyDrained(generation: Generation): void {
    for (const upstream of generation.upstreams.values()) for (const instance of upstream.instances) instance.setDrained(this.#drained.has(instance.id));
  }

  async #closeUpstreams(upstreams: Iterable<Upstream>): Promise<void> {
    await Promise.all([...upstreams].map((u) => u.close(this.#cutAtShutdown)));
  }
}

/** At most 20 entries of a list for a log line, then how many more. */
function listed(items: readonly string[]): string {
  const shown = items.slice(0, 20).join(', ');
  return items.length > 20 ? `${shown} and ${items.length - 20} more` : shown;
}
