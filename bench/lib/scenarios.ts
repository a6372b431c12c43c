/**
 * The bench's scenarios: what load, against which topology, measured by which
 * tool. Adding one is adding an entry here.
 *
 * @module
 */
import type { Strategy } from '../../src/config/types.js';
import { ASSET_PATH, benchFileContents, SMALL_STATIC_PATH } from './bench-files.js';
import type { BenchTlsFiles } from './bench-tls.js';
import { sampleJson } from './sample-bodies.js';
import type { BalancedTopology } from './configs.js';
import { buildRouteTable, requestTargetsFor, type ProxyFeature, type Topology } from './topology.js';
import { luaTargets, type WrkScript } from './wrk.js';

export type LoadTool = 'wrk' | 'autocannon' | 'paced' | 'ws';

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** One sentence for the report: what it measures. */
  readonly description: string;
  readonly tool: LoadTool;
  /** How many upstream instances the proxies balance over. */
  readonly instances: number;
  /**
   * How the proxies pick an instance (warpdrive's names; nginx and HAProxy get
   * their equivalent directive). Undefined: round robin, every proxy's default.
   */
  readonly strategy?: Strategy;
  /** The route table (undefined: one catch-all route). */
  readonly routes: Topology['routes'];
  /** wrk: request path (when the script does not set one), script parts, extra headers. */
  readonly path: string;
  readonly wrkScript?: WrkScript;
  readonly headers?: readonly string[];
  /** autocannon and paced: the fixed overall rate. */
  readonly ratePerSec?: number;
  /** A proxy that must support WebSocket; others are probed and skipped if they do not. */
  readonly needsWebSocket?: boolean;
  /**
   * The response cache scenarios: every proxy caches (warpdrive [cache], nginx
   * proxy_cache, Varnish); `hit` requests one cacheable URL, `miss` a new one each time.
   */
  readonly cache?: 'hit' | 'miss';
  /**
   * A file scenario: what the proxies do besides proxying (topology.ts). Only warpdrive
   * and nginx take part; HAProxy, the Node peer, the floors and "direct" cannot.
   */
  readonly feature?: ProxyFeature['kind'];
  /** The Content-Encoding the response must have (checked once before measuring). */
  readonly expectEncoding?: 'gzip';
  /**
   * An HTTPS scenario: every proxy serves the bench certificate (bench-tls.ts) and the
   * load goes over TLS. `keep-alive`: one handshake per connection, then requests.
   * `full-handshakes`: a new connection per request, each a full handshake (wrk with
   * wrk-no-resume.ts, checked before measuring). Only warpdrive, nginx and HAProxy
   * take part; the Node.js peer, the floors and "direct" speak plain HTTP only.
   */
  readonly https?: 'keep-alive' | 'full-handshakes';
}

/** The gzip level of the compression scenario, the same in every proxy (warpdrive's default). */
export const BENCH_GZIP_LEVEL = 5;

/**
 * Small GET over 3 upstream instances with one balancing strategy: beside
 * `small-get` (one instance), the difference is what the balancer costs.
 */
function poolScenario(name: string, strategy: Strategy, strategyTitle: string, how: string): Scenario {
  return {
    name,
    title: `Pool of 3 upstream instances, ${strategyTitle}`,
    // http-proxy has no strategies: the Node.js peer always takes turns, and the report should say so.
    description: strategy === 'round_robin' ? `Small GET ${how}` : `Small GET ${how} The Node.js peer stays round robin.`,
    tool: 'wrk',
    instances: 3,
    strategy,
    routes: undefined,
    path: '/',
    wrkScript: { parts: [] },
  };
}

/** 100 hosts x 10 path prefixes. */
const ROUTE_TABLE = buildRouteTable(100, 10);

const BASE_SCENARIOS: readonly Scenario[] = [
  {
    name: 'small-get',
    title: 'Small GET, keep-alive (headline)',
    description: 'GET / with a 30-byte response over persistent connections: the per-request cost of the proxy.',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/',
    wrkScript: { parts: [] },
  },
  {
    name: 'large-100k',
    title: '100 KiB responses',
    description: 'GET /100k: moving response bytes (buffering, copies, backpressure).',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/100k',
    wrkScript: { parts: [] },
  },
  {
    name: 'upload-1m',
    title: '1 MiB uploads (streamed)',
    description: 'POST /upload with a 1 MiB body, which the upstream counts: request-body streaming.',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/upload',
    wrkScript: { parts: ['upload.lua'] },
  },
  {
    name: 'routes-1000',
    title: '1,000 routes, host + path',
    description: '100 hosts x 10 path prefixes; wrk cycles through one request per route: route lookup cost.',
    tool: 'wrk',
    instances: 1,
    routes: ROUTE_TABLE,
    path: '/',
    wrkScript: { parts: ['routes.lua'], prelude: luaTargets(requestTargetsFor(ROUTE_TABLE)) },
  },
  poolScenario('pool-3', 'round_robin', 'round robin', 'balanced round-robin over 3 instances: instance selection and per-instance pools.'),
  poolScenario('pool-3-least-conn', 'least_conn', 'least connections', 'sent to the instance with the fewest requests in flight (a scan of the 3 on every request).'),
  poolScenario(
    'pool-3-random',
    'random',
    'random, two choices',
    'two instances drawn at random, the one with fewer requests in flight taken (nginx "random two least_conn", HAProxy "random(2)").',
  ),
  poolScenario(
    'pool-3-ip-hash',
    'ip_hash',
    'client IP hash',
    'hashed on the client address: every request of the bench comes from 127.0.0.1, so all of them go to ONE instance in every proxy; this measures the cost of the hash, not balancing.',
  ),
  {
    name: 'new-conn',
    title: 'New connection per request',
    description: 'Small GET with "Connection: close": accept, parse and close per request (upstream side stays pooled).',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/',
    wrkScript: { parts: [] },
    headers: ['Connection: close'],
  },
  {
    name: 'cache-hit',
    title: 'Cache hits, 1 KiB response',
    description:
      'GET /cache/small, a 1 KiB response with Cache-Control: public, max-age=3600, answered from each proxy\'s cache (warpdrive memory, nginx proxy_cache with its zone in memory and files on tmpfs, Varnish -s malloc); "direct" is the bare uWebSockets.js upstream answering the same bytes from memory: the ceiling.',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/cache/small',
    wrkScript: { parts: [] },
    cache: 'hit',
  },
  {
    name: 'cache-miss',
    title: 'Cache misses, 1 KiB responses',
    description:
      'A new cacheable URL on every request: each is fetched from the upstream and stored (and, once memory is full, older entries evicted). Beside small-get, the cost a cache adds to a proxied request.',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/',
    wrkScript: { parts: ['unique-paths.lua'] },
    cache: 'miss',
  },
  {
    name: 'gzip-json-100k',
    title: '100 KiB JSON compressed with gzip (level 5)',
    description: `GET /json-100k with Accept-Encoding: gzip: the proxy compresses a 100 KiB API response, at gzip level ${BENCH_GZIP_LEVEL} in nginx and warpdrive alike.`,
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/json-100k',
    wrkScript: { parts: [] },
    headers: ['Accept-Encoding: gzip'],
    feature: 'compression',
    expectEncoding: 'gzip',
  },
  {
    name: 'sendfile-1m',
    title: '1 MiB file by X-Accel-Redirect',
    description: 'GET /download-1m: the upstream answers X-Accel-Redirect: /private/1m.bin and the proxy sends the file (nginx: an internal location with sendfile on; warpdrive: x_accel_mappings, no sendfile in uWS).',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/download-1m',
    wrkScript: { parts: [] },
    feature: 'x-accel-redirect',
  },
  {
    name: 'static-small',
    title: 'Small static file (2 KiB)',
    description: `GET ${SMALL_STATIC_PATH} from the static root (nginx: root + try_files $uri @app, sendfile on; warpdrive: static_root): the upstream is never asked.`,
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: SMALL_STATIC_PATH,
    wrkScript: { parts: [] },
    feature: 'static',
  },
  {
    name: 'static-precompressed',
    title: '50 KiB precompressed asset',
    description: `GET ${ASSET_PATH} with Accept-Encoding: gzip: the .gz sibling an asset pipeline wrote (nginx: gzip_static on; warpdrive: by itself).`,
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: ASSET_PATH,
    wrkScript: { parts: [] },
    headers: ['Accept-Encoding: gzip'],
    feature: 'static',
    expectEncoding: 'gzip',
  },
  {
    name: 'https-small-get',
    title: 'HTTPS small GET, keep-alive',
    description:
      'GET / with a 30-byte response over persistent TLS connections (TLS 1.3, ECDSA P-256 certificate, X25519): the proxy\'s per-request cost plus decrypting the request and encrypting the response (each wrk connection does one handshake when it opens, a negligible share of the run). Beside small-get, what TLS adds per request.',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/',
    wrkScript: { parts: [] },
    https: 'keep-alive',
  },
  {
    name: 'https-new-conn',
    title: 'HTTPS, new TLS connection per request (full handshakes)',
    description:
      'Small GET with "Connection: close" over TLS, every connection a full handshake (no session resumption: wrk is kept from offering sessions, and that is checked before measuring): ECDHE key exchange and an ECDSA P-256 signature per request, plus accept, parse and close (upstream side stays pooled).',
    tool: 'wrk',
    instances: 1,
    routes: undefined,
    path: '/',
    wrkScript: { parts: [] },
    headers: ['Connection: close'],
    https: 'full-handshakes',
  },
  {
    name: 'ws-echo',
    title: 'WebSocket echo',
    description: '64-byte messages echoed through an upgraded connection, one in flight per connection (Node.js client).',
    tool: 'ws',
    instances: 1,
    routes: undefined,
    path: '/echo',
    needsWebSocket: true,
  },
];

/** A fixed-rate scenario (small GET) for each rate, named `rate-1k`, `rate-5k`, `rate-1500`. */
export function rateScenario(ratePerSec: number): Scenario {
  return {
    name: rateName('rate', ratePerSec),
    title: `Small GET at a fixed ${ratePerSec.toLocaleString('en-US')} req/s (autocannon)`,
    description: `Latency at a steady ${ratePerSec} requests/s, corrected for coordinated omission; not a throughput test.`,
    tool: 'autocannon',
    instances: 1,
    routes: undefined,
    path: '/',
    ratePerSec,
  };
}

function rateName(prefix: string, ratePerSec: number): string {
  return ratePerSec % 1000 === 0 ? `${prefix}-${ratePerSec / 1000}k` : `${prefix}-${ratePerSec}`;
}

/**
 * The same fixed rate with the bench's own open-loop client (bench/paced-load.ts):
 * microsecond latencies, evenly spaced requests, named `paced-1k`, `paced-5k`.
 */
export function pacedScenario(ratePerSec: number): Scenario {
  return {
    name: rateName('paced', ratePerSec),
    title: `Small GET at a fixed ${ratePerSec.toLocaleString('en-US')} req/s (paced, µs latencies)`,
    description: `Latency at a steady ${ratePerSec} requests/s, evenly spaced; requests that wait for a busy connection are timed from when they were due.`,
    tool: 'paced',
    instances: 1,
    routes: undefined,
    path: '/',
    ratePerSec,
  };
}

export function allScenarios(rates: readonly number[]): Scenario[] {
  return [...BASE_SCENARIOS, ...rates.map(rateScenario), ...rates.map(pacedScenario)];
}

/**
 * What every proxy is configured with for `scenario`: its first `instances`
 * upstream ports, its routes, its balancing strategy, for a file scenario its
 * feature (`filesDir`: where bench-files.ts wrote the files) and for an HTTPS
 * scenario the certificate (`tls`: what bench-tls.ts wrote).
 */
export function scenarioTopology(scenario: Scenario, upstreamPorts: readonly number[], filesDir?: string, tls?: BenchTlsFiles): BalancedTopology {
  if (upstreamPorts.length < scenario.instances) {
    throw new Error(`bench: scenario ${scenario.name} needs ${scenario.instances} upstream ports, got ${upstreamPorts.length}`);
  }
  let topology: BalancedTopology = {
    upstreamPorts: upstreamPorts.slice(0, scenario.instances),
    routes: scenario.routes,
    strategy: scenario.strategy ?? 'round_robin',
    cache: scenario.cache !== undefined,
  };
  if (scenario.https !== undefined) {
    if (tls === undefined) throw new Error(`bench: scenario ${scenario.name} is served over HTTPS but no certificate was given`);
    topology = { ...topology, tls };
  }
  if (scenario.feature === undefined) return topology;
  if (scenario.feature === 'compression') return { ...topology, feature: { kind: 'compression', gzipLevel: BENCH_GZIP_LEVEL } };
  if (filesDir === undefined) throw new Error(`bench: scenario ${scenario.name} serves files but no files directory was given`);
  return { ...topology, feature: { kind: scenario.feature, filesDir } };
}

/** The scenarios named in `names` (in the bench's own order), or an error naming the unknown ones. */
export function selectScenarios(names: readonly string[], rates: readonly number[]): Scenario[] {
  const all = allScenarios(rates);
  if (names.length === 0) return all;
  const known = new Set(all.map((s) => s.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.map((u) => `"${u}"`).join(', ')}; choose from: ${[...known].join(', ')}`);
  }
  return all.filter((s) => names.includes(s.name));
}

/** What a file scenario's request must get back (verified before measuring); undefined for the others. */
export function expectedResponse(scenario: Scenario): { body: Buffer; encoding: 'gzip' | undefined } | undefined {
  if (scenario.feature === undefined) return undefined;
  const files = benchFileContents();
  const body =
    scenario.path === '/json-100k' ? sampleJson(100 * 1024)
    : scenario.path === '/download-1m' ? files.accel
    : scenario.path === SMALL_STATIC_PATH ? files.small
    : scenario.path === ASSET_PATH ? files.asset
    : undefined;
  if (body === undefined) throw new Error(`bench: no expected body for file scenario ${scenario.name} (${scenario.path})`);
  return { body, encoding: scenario.expectEncoding };
}
