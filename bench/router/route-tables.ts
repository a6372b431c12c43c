/**
 * Realistic route tables and request mixes for the router benchmark, generated
 * deterministically (seeded PRNG) so runs on different branches compare.
 *
 * A table of N routes looks like a multi-tenant fleet: a few host-less routes at
 * the head (ActionCable, one regex), then per-tenant blocks (exact host: health
 * check, nested API prefixes, a regex route, method-split admin routes, assets, a
 * catch-all), some wildcard-host blocks, and a host-less catch-all at the end.
 *
 * @module
 */
import type { HeaderLookup, RouteConditions, RouteRule } from '../../src/router/types.js';

export interface BenchRoute extends RouteRule {
  readonly name: string;
}

export interface BenchRequest {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly headers: HeaderLookup;
}

/**
 * A flat (sequential) copy of `text`. Template literals make cons-strings, whose
 * charCodeAt is slower than on the flat strings the ingress hands the router.
 */
export function flat(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** mulberry32: a tiny seeded PRNG, enough to shuffle and pick. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return function next() {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function conditions(partial: Partial<RouteConditions>): RouteConditions {
  return {
    host: partial.host,
    pathPrefix: partial.pathPrefix,
    pathExact: partial.pathExact,
    pathRegex: partial.pathRegex,
    methods: partial.methods,
    header: partial.header,
  };
}

const tenantHost = (k: number) => `tenant${k}.example.com`;
const wildcardSuffix = (k: number) => `.app${k}.example.net`;

/** Routes of one tenant's exact host (10 routes). */
function tenantBlock(host: string): Array<Partial<RouteConditions>> {
  return [
    { host, pathExact: '/health' },
    { host, pathPrefix: '/cable' },
    { host, pathPrefix: '/api/v2', header: { name: 'x-api-version', value: 'beta' } },
    { host, pathPrefix: '/api/v1/users' },
    { host, pathRegex: '^/api/v1/items/[0-9]+$' },
    { host, pathPrefix: '/api/v1' },
    { host, pathPrefix: '/admin', methods: ['GET', 'HEAD'] },
    { host, pathPrefix: '/admin', methods: ['POST', 'PUT', 'DELETE'] },
    { host, pathPrefix: '/assets' },
    { host, pathPrefix: '/' },
  ];
}

/** Routes of one wildcard host (3 routes). */
function wildcardBlock(host: string): Array<Partial<RouteConditions>> {
  return [{ host, pathPrefix: '/api' }, { host, pathPrefix: '/static' }, { host }];
}

/** Exactly `count` routes (count >= 4), and the number of tenants and wildcard blocks in them. */
export function buildRouteTable(count: number): { routes: BenchRoute[]; tenants: number; wildcards: number } {
  const head: Array<Partial<RouteConditions>> = [
    { pathPrefix: '/cable' },
    { pathRegex: '^/users/[0-9]+/posts' },
    { pathExact: '/robots.txt' },
  ];
  const tail: Array<Partial<RouteConditions>> = [{ pathPrefix: '/' }];
  const body: Array<Partial<RouteConditions>> = [];
  let tenants = 0;
  let wildcards = 0;
  while (head.length + body.length + tail.length < count) {
    // One wildcard block per ten tenant blocks.
    if (tenants % 10 === 9 && wildcards < Math.floor(tenants / 10) + 1) body.push(...wildcardBlock(`*${wildcardSuffix(wildcards++)}`));
    else body.push(...tenantBlock(tenantHost(tenants++)));
  }
  const all = [...head, ...body.slice(0, count - head.length - tail.length), ...tail];
  return {
    routes: all.map((partial, index) => ({ index, name: `route${index}`, match: conditions(partial) })),
    tenants,
    wildcards,
  };
}

class RecordHeaders implements HeaderLookup {
  readonly #map: Map<string, string>;
  constructor(entries: Array<[string, string]>) {
    this.#map = new Map(entries);
  }
  get(name: string): string | undefined {
    return this.#map.get(name);
  }
}

const noHeaders = new RecordHeaders([]);
const betaHeaders = new RecordHeaders([['x-api-version', 'beta']]);

/**
 * `count` requests in a realistic mix for a table with `tenants` tenants and
 * `wildcards` wildcard blocks: mostly tenant traffic (API, assets, health, admin,
 * a regex route), some wildcard subdomains, some unknown hosts that fall to the
 * host-less routes.
 */
export function buildRequestMix(count: number, tenants: number, wildcards: number, seed = 42): BenchRequest[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const tenantPaths = [
    '/api/v1/users/1234',
    '/api/v1/users/1234/orders',
    '/api/v1/orders',
    '/api/v1/items/987',
    '/api/v2/search',
    '/assets/application-3f9a1c.js',
    '/assets/images/logo.png',
    '/health',
    '/',
    '/admin/settings',
    '/products/widgets/blue-widget',
    '/cable',
  ];
  const requests: BenchRequest[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    if (roll < 0.75 && tenants > 0) {
      const path = pick(tenantPaths);
      const method = path.startsWith('/admin') && random() < 0.3 ? 'POST' : 'GET';
      const headers = path.startsWith('/api/v2') && random() < 0.5 ? betaHeaders : noHeaders;
      requests.push({ method, host: flat(tenantHost(Math.floor(random() * tenants))), path: flat(path), headers });
    } else if (roll < 0.85 && wildcards > 0) {
      const path = pick(['/api/v1/things/7', '/static/app.css', '/dashboard']);
      requests.push({ method: 'GET', host: flat(`shop${Math.floor(random() * 100)}${wildcardSuffix(Math.floor(random() * wildcards))}`), path: flat(path), headers: noHeaders });
    } else {
      const path = pick(['/users/42/posts', '/robots.txt', '/cable', '/', '/about/team']);
      requests.push({ method: 'GET', host: flat(pick(['unknown.example.org', 'localhost', '10.0.0.1'])), path: flat(path), headers: noHeaders });
    }
  }
  return requests;
}

/** Requests to one tenant's catch-all route with paths of `segments` segments, for the path-length series. */
export function buildDeepRequests(count: number, segments: number, tenants: number): BenchRequest[] {
  const random = seededRandom(segments);
  const requests: BenchRequest[] = [];
  for (let i = 0; i < count; i++) {
    const parts: string[] = [];
    for (let s = 0; s < segments; s++) parts.push(`seg${Math.floor(random() * 100)}`);
    requests.push({ method: 'GET', host: flat(tenantHost(Math.floor(random() * tenants))), path: flat('/api/v1/' + parts.join('/')), headers: noHeaders });
  }
  return requests;
}
