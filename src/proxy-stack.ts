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
  #ingress: IngressServer | undefined;
  #tlsServer: TlsServer | undefined;
  #unlinkSupervisor: (() => void) | undefined;

  private constructor(plan: RuntimePlan, options: ProxyStackOptions) {
    this.#services = new ThreadServices(options.thread, plan);
    // Before the first generation: its filters (HTTPS redirect) read the thread's TLS state.
    if (options.tls !== undefined) {
      const { httpsPort, acmeDomains, challenges, certificates } = options.tls;
      this.#services.tls = new ThreadTls(httpsPort, acmeDomains, challenges, certificates);
    }
    this.#hooks = options;
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

  /** Stops accepting connections; connections already open are still served. */
  stopListening(): void {
    this.#ingress?.stopListening();
    this.#tlsServer?.stopListening();
  }

  /**
   * Lets in-flight HTTP requests finish until `deadline` (a `Date.now()` value),
   * then closes WebSockets with 1001 (they never finish by themselves).
   */
  async drain(deadline: number, shutdownTimeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.pipeline.drain().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), true))),
    ]);
    clearTimeout(timer);
    if (timedOut) log.warn(`shutdown timeout (${shutdownTimeoutMs} ms) passed with ${this.pipeline.inFlight} request(s) still in flight; closing them`);
    await this.#websockets.closeAll(1001, 'server shutting down', Math.max(1000, deadline - Date.now()));
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

  async #closeUpstreams(upstreams: Iterable<Upstream>): Promise<void> {
    await Promise.all([...upstreams].map((u) => u.close()));
  }
}
