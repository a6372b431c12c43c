/**
 * A configuration generation: everything one proxy thread builds from one
 * runtime plan (upstreams with their connection pools, the routes with their
 * compiled filter chains, the router, the per-request settings), immutable once
 * built.
 *
 * Requests take the generation that is current when they arrive and keep it
 * until they end (a reference count, `acquire`/`release`). A reload builds the
 * next generation and swaps one reference (`Pipeline.swap`); the old one is
 * retired and closes what only it used once its last request has ended.
 * Upstreams whose definition did not change are carried into the next
 * generation as the same objects, so they keep their keep-alive connections and
 * their health state (active checks, passive ejections, process readiness).
 * WebSockets are bridges: they hold sockets, not a generation.
 *
 * @module
 */
import type { RuntimePlan, UpstreamSpec } from '../config/types.js';
import { GenerationFilters, type ThreadServices } from '../filters/index.js';
import type { PurgeEndpoint } from '../filters/cache-purge.js';
import type { TrustedProxies } from '../filters/trusted-proxies.js';
import type { FilterChain } from '../pipeline/filter.js';
import { ProxyRoute } from '../pipeline/route.js';
import { createRouter } from '../router/create-router.js';
import type { Router } from '../router/types.js';
import { Upstream } from '../upstream/index.js';

/** What the pipeline reads per request, decided once per generation. */
export interface RequestSettings {
  readonly maxHeaderBytes: number;
  /** Infinity when unlimited. */
  readonly maxBodyBytes: number;
  /** X-Forwarded-* are set by a filter; when false they pass through as received. */
  readonly forwardHeaders: boolean;
  readonly trusted: TrustedProxies;
  /** Read the peer address only if something uses it. */
  readonly captureClientIp: boolean;
  /** server.request_body_chunked = "reject": a chunked request body gets 411. */
  readonly rejectChunkedBodies: boolean;
  /** Time upstream attempts (Exchange.upstreamStartedAt/EndedAt) only if something reads it: the access log or metrics. */
  readonly timeUpstream: boolean;
}

let nextId = 1;

export class Generation {
  readonly id: number;
  readonly plan: RuntimePlan;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly routes: readonly ProxyRoute[];
  readonly router: Router<ProxyRoute>;
  readonly settings: RequestSettings;
  /** Filters for requests that reached no route (the access log still sees them). */
  readonly unroutedFilters: FilterChain;
  /** Upstreams this generation built (not carried over from the previous one). */
  readonly created: ReadonlySet<Upstream>;
  /** The cache's admin endpoint, answered before routing; undefined when off. */
  readonly purge: PurgeEndpoint | undefined;
  #inFlight = 0;
  #retired: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  private constructor(plan: RuntimePlan, upstreams: Map<string, Upstream>, created: Set<Upstream>, services: ThreadServices) {
    this.id = nextId++;
    this.plan = plan;
    this.upstreams = upstreams;
    this.created = created;
    const filters = new GenerationFilters(plan, services);
    this.routes = plan.routes.map((spec) => {
      // A files-only route has no upstream: its static files filter answers everything.
      const name = spec.upstream;
      return new ProxyRoute(spec, name === undefined ? undefined : upstreams.get(name)!, name === undefined ? undefined : plan.upstreams.get(name)!, filters.forRoute(spec));
    });
    this.router = createRouter(this.routes);
    this.unroutedFilters = filters.unrouted();
    this.purge = filters.purgeEndpoint();
    const ipHash = [...plan.upstreams.values()].some((u) => u.strategy === 'ip_hash');
    this.settings = {
      maxHeaderBytes: plan.server.maxHeaderBytes,
      maxBodyBytes: plan.server.maxBodyBytes ?? Number.POSITIVE_INFINITY,
      forwardHeaders: plan.middleware.forwardHeaders,
      trusted: filters.trusted,
      captureClientIp: plan.middleware.forwardHeaders || plan.middleware.logRequests || plan.middleware.requestId || ipHash,
      rejectChunkedBodies: plan.server.requestBodyChunked === 'reject',
      timeUpstream: plan.middleware.logRequests || plan.admin !== undefined,
    };
  }

  /**
   * Builds a generation from `plan`. Upstreams of `previous` whose definition is the
   * same (addresses, strategy, health, timeouts, limits; process commands do not
   * matter here) are reused as they are.
   */
  static build(plan: RuntimePlan, services: ThreadServices, previous?: Generation): Generation {
    const upstreams = new Map<string, Upstream>();
    const created = new Set<Upstream>();
    for (const [name, spec] of plan.upstreams) {
      const old = previous?.upstreams.get(name);
      if (old !== undefined && sameUpstreamDefinition(old.spec, spec)) {
        upstreams.set(name, old);
      } else {
        const upstream = new Upstream(spec);
        upstreams.set(name, upstream);
        created.add(upstream);
      }
    }
    return new Generation(plan, upstreams, created, services);
  }

  /** A request starts using this generation. */
  acquire(): this {
    this.#inFlight++;
    return this;
  }

  /** A request that called `acquire` has ended. */
  release(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle !== undefined) this.#idle();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** No new request will take this generation; resolves once the last one has ended (the same promise for every caller). */
  retire(): Promise<void> {
    this.#retired ??= this.#inFlight === 0 ? Promise.resolve() : new Promise((resolve) => (this.#idle = resolve));
    return this.#retired;
  }

  /** Upstreams of this generation that `next` does not use (closed when this one retires). */
  upstreamsDroppedBy(next: Generation): Upstream[] {
    const kept = new Set(next.upstreams.values());
    return [...this.upstreams.values()].filter((u) => !kept.has(u));
  }
}

/**
 * Whether two upstream definitions give the same pools and health state. Process
 * details are left out (a changed command restarts the process, the pool stays),
 * but whether an instance is supervised at all is in: it decides readiness.
 */
export function sameUpstreamDefinition(a: UpstreamSpec, b: UpstreamSpec): boolean {
  return definitionKey(a) === definitionKey(b);
}

function definitionKey(spec: UpstreamSpec): string {
  const { process, instances, ...rest } = spec;
  return JSON.stringify({
    ...rest,
    supervised: process !== undefined,
    instances: instances.map(({ process: instanceProcess, ...instance }) => ({ ...instance, supervised: instanceProcess !== undefined })),
  });
}
