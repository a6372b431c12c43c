/**
 * Renders each proxy's configuration from one {@link Topology}, using the
 * templates in bench/configs/. The templates hold everything fixed (and say why);
 * this module fills in ports, the temp directory, upstream servers and routes.
 *
 * Pure functions of their inputs: the same topology gives the same files.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Strategy } from '../../src/config/types.js';
import { ACCEL_PREFIX } from './bench-files.js';
import {
  BENCH_TLS12_CIPHERS,
  BENCH_TLS13_SUITES,
  BENCH_TLS_GROUPS,
  BENCH_TLS_SESSION_CACHE_ENTRIES,
  BENCH_TLS_SESSION_LIFETIME_SECS,
  type BenchTlsFiles,
} from './bench-tls.js';
import type { ProxyFeature, Topology } from './topology.js';

/**
 * A topology plus how its instances are balanced. Undefined strategy: round
 * robin, every proxy's default (what a plain {@link Topology} means).
 */
export interface BalancedTopology extends Topology {
  readonly strategy?: Strategy;
  /** Every proxy caches responses (the cache-* scenarios). */
  readonly cache?: boolean;
}

/** The cache every proxy gets in the cache scenarios: 64 MiB of memory. */
export const BENCH_CACHE_BYTES = 64 * 1024 * 1024;

/** Where nginx keeps its cache files in the cache scenarios: tmpfs, removed when the run stops. */
export function nginxCacheDir(port: number): string {
  return path.join('/dev/shm', `warpdrive-bench-nginx-${port}`);
}

/**
 * Each proxy's spelling of warpdrive's strategies, chosen to do the same thing:
 * - least_conn: fewest requests (nginx, warpdrive) or connections (HAProxy, which
 *   counts a request per connection in HTTP mode) in flight.
 * - random: warpdrive draws two instances and takes the less busy, which is
 *   nginx's `random two least_conn` and HAProxy's `random(2)`.
 * - ip_hash: by client address. nginx's ip_hash keys on the first three octets
 *   of an IPv4 address, HAProxy's `source` and warpdrive on the whole address;
 *   with every bench request from 127.0.0.1 all three send everything to one
 *   instance, so this measures the hash, not the spread.
 * Round robin is every proxy's default: nginx gets no directive (a comment),
 * HAProxy `roundrobin`.
 */
const NGINX_BALANCE: Readonly<Record<Strategy, string>> = {
  round_robin: '# round robin: nginx\'s default, no directive',
  least_conn: 'least_conn;',
  random: 'random two least_conn;',
  ip_hash: 'ip_hash;',
};
const HAPROXY_BALANCE: Readonly<Record<Strategy, string>> = {
  round_robin: 'roundrobin',
  least_conn: 'leastconn',
  random: 'random(2)',
  ip_hash: 'source',
};

/** The strategy of `topology`, checked: a name outside the four would render a broken config. */
function strategyOf(topology: BalancedTopology): Strategy {
  const strategy = topology.strategy ?? 'round_robin';
  if (!Object.hasOwn(HAPROXY_BALANCE, strategy)) {
    throw new Error(`bench: unknown balancing strategy ${JSON.stringify(strategy)}; use ${Object.keys(HAPROXY_BALANCE).join(', ')}`);
  }
  return strategy;
}

/** The repository root: the first directory above this file holding package.json and bench/configs. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'bench', 'configs'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('bench: cannot find the project root (a directory with package.json and bench/configs/) above ' + fileURLToPath(import.meta.url));
}

export function templatePath(name: string): string {
  return path.join(projectRoot(), 'bench', 'configs', name);
}

/** Replaces every `{{key}}`; a placeholder without a value is a bug in the bench, so it throws. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`bench: template placeholder {{${key}}} has no value`);
    return value;
  });
}

function loadTemplate(name: string): string {
  return readFileSync(templatePath(name), 'utf8');
}

export interface RenderContext {
  /** The port the proxy listens on (127.0.0.1): where the load goes, with TLS in an HTTPS scenario. */
  readonly port: number;
  /**
   * warpdrive in an HTTPS scenario: the port of the plain-HTTP listener it always
   * has besides `https_port` (nothing is sent to it).
   */
  readonly plainHttpPort?: number;
  /** A private directory for the proxy's pid, logs, temp files and side files. */
  readonly dir: string;
  /** Workers/threads of each proxy (`--proxy-threads`); 1 when absent. */
  readonly threads?: number;
}

/** A rendered config: the main file plus side files (HAProxy's route map). */
export interface RenderedConfig {
  readonly mainFile: string;
  readonly text: string;
  readonly sideFiles: ReadonlyArray<{ readonly name: string; readonly text: string }>;
}

export function renderNginx(topology: BalancedTopology, ctx: RenderContext, template = loadTemplate('nginx.conf.tmpl')): RenderedConfig {
  const balance = NGINX_BALANCE[strategyOf(topology)];
  // HTTPS: every server listens with TLS; the settings are http-wide (nginxTls).
  const listen = (extra: string): string => `        listen 127.0.0.1:${ctx.port}${topology.tls ? ' ssl' : ''}${extra};`;
  const upstreamServers = topology.upstreamPorts.map((p) => `        server 127.0.0.1:${p};`).join('\n');
  const webSocketLocation = [
    '        # WebSocket echo: the one place the upgrade headers pass through.',
    '        location = /echo {',
    '            proxy_pass http://app;',
    '            proxy_set_header Upgrade $http_upgrade;',
    '            proxy_set_header Connection "upgrade";',
    '            proxy_set_header Host $host;',
    '            proxy_read_timeout 1h;',
    '        }',
  ].join('\n');
  let servers: string;
  // The cache scenarios: nginx's proxy_cache with its keys zone in shared memory and its files on tmpfs
  // (/dev/shm), honouring the upstream's Cache-Control as warpdrive and Varnish do.
  const cacheDir = nginxCacheDir(ctx.port);
  const cache = topology.cache
    ? `    proxy_cache_path ${cacheDir} levels=1:2 keys_zone=bench:16m max_size=${BENCH_CACHE_BYTES} inactive=1h use_temp_path=off;`
    : '    # no cache in this scenario';
  if (topology.routes === undefined) {
    servers = [
      '    server {',
      listen(' default_server'),
      ...(topology.cache
        ? ['        location / {', '            proxy_pass http://app;', '            proxy_cache bench;', '            proxy_cache_lock on;', '        }']
        : nginxFeature(topology.feature)),
      webSocketLocation,
      '    }',
    ].join('\n');
  } else {
    // One server block per host (server_name is a hash lookup), one prefix location per path.
    const byHost = new Map<string, string[]>();
    for (const route of topology.routes) {
      const list = byHost.get(route.host) ?? [];
      list.push(route.pathPrefix);
      byHost.set(route.host, list);
    }
    const blocks = [
      '    # Requests for no known host get 404, as in the other proxies.',
      '    server {',
      listen(' default_server'),
      '        return 404;',
      '    }',
    ];
    for (const [host, prefixes] of byHost) {
      blocks.push('    server {', listen(''), `        server_name ${host};`);
      for (const prefix of prefixes) blocks.push(`        location ${prefix} { proxy_pass http://app; }`);
      blocks.push('        location / { return 404; }', '    }');
    }
    servers = blocks.join('\n');
  }
  const tls = topology.tls ? nginxTls(topology.tls).join('\n') : '';
  const text = fillTemplate(template, { dir: ctx.dir, threads: String(ctx.threads ?? 1), balance, upstream_servers: upstreamServers, tls, servers, cache });
  return { mainFile: 'nginx.conf', text, sideFiles: [] };
}

/**
 * nginx's TLS settings for the HTTPS scenarios: the bench certificate and what
 * warpdrive's uWS build does by itself (bench-tls.ts; docs/bench.md compares them).
 */
function nginxTls(tls: BenchTlsFiles): string[] {
  return [
    '    # HTTPS scenarios: the certificate the bench made for this run, and the TLS settings',
    "    # warpdrive's uWS build has by itself (bench/lib/bench-tls.ts, docs/bench.md).",
    `    ssl_certificate ${tls.certFile};`,
    `    ssl_certificate_key ${tls.keyFile};`,
    '    ssl_protocols TLSv1.2 TLSv1.3;',
    "    # TLS 1.2: warpdrive's list. TLS 1.3: OpenSSL's three suites, the same three as BoringSSL's.",
    `    ssl_ciphers ${BENCH_TLS12_CIPHERS};`,
    "    # The client's order decides, as in BoringSSL (measured); and BoringSSL's default groups.",
    '    ssl_prefer_server_ciphers off;',
    `    ssl_ecdh_curve ${BENCH_TLS_GROUPS.join(':')};`,
    '    # Session tickets on (uWS cannot turn them off), an in-process cache of BoringSSL\'s default size.',
    '    ssl_session_tickets on;',
    `    ssl_session_cache builtin:${BENCH_TLS_SESSION_CACHE_ENTRIES};`,
    `    ssl_session_timeout ${BENCH_TLS_SESSION_LIFETIME_SECS}s;`,
    '',
  ];
}

/** The catch-all server's locations for a file scenario's feature (plain proxying without one). */
function nginxFeature(feature: ProxyFeature | undefined): string[] {
  const proxyAll = ['        location / {', '            proxy_pass http://app;', '        }'];
  if (feature === undefined) return proxyAll;
  switch (feature.kind) {
    case 'compression':
      return [
        `        # The same level as warpdrive's compression_gzip_level; JSON is what the scenario sends.`,
        '        gzip on;',
        `        gzip_comp_level ${feature.gzipLevel};`,
        '        gzip_types application/json;',
        '        gzip_min_length 1024;',
        '        gzip_vary on;',
        ...proxyAll,
      ];
    case 'x-accel-redirect':
      return [
        ...proxyAll,
        '        # What the upstream names in X-Accel-Redirect; sendfile as in a production nginx.conf.',
        `        location ${ACCEL_PREFIX} {`,
        '            internal;',
        `            alias ${path.join(feature.filesDir, 'private')}/;`,
        '            sendfile on;',
        '        }',
      ];
    case 'static':
      return [
        '        # try_files $uri @app: the static root first, the upstream for the rest.',
        '        location / {',
        `            root ${path.join(feature.filesDir, 'public')};`,
        '            try_files $uri @app;',
        '            sendfile on;',
        '            gzip_static on;',
        '            types { text/plain txt; text/javascript js; }',
        '        }',
        '        location @app {',
        '            proxy_pass http://app;',
        '        }',
      ];
  }
}

/** warpdrive's `[middleware]` lines and catch-all route lines for a file scenario's feature. */
function warpdriveFeature(feature: ProxyFeature | undefined): { middleware: string; route: string } {
  if (feature === undefined) return { middleware: '', route: '' };
  switch (feature.kind) {
    case 'compression':
      return { middleware: `gzip_compression_enabled = true\ncompression = ["gzip"]\ncompression_gzip_level = ${feature.gzipLevel}\n`, route: '' };
    case 'x-accel-redirect':
      return {
        middleware: `x_sendfile_enabled = true\nx_accel_mappings = [{ prefix = ${tomlString(ACCEL_PREFIX)}, root = ${tomlString(path.join(feature.filesDir, 'private'))} }]\n`,
        route: '',
      };
    case 'static':
      return { middleware: '', route: `static_root = ${tomlString(path.join(feature.filesDir, 'public'))}\n` };
  }
}

export function renderHaproxy(topology: BalancedTopology, ctx: RenderContext, template = loadTemplate('haproxy.cfg.tmpl')): RenderedConfig {
  const balance = HAPROXY_BALANCE[strategyOf(topology)];
  const upstreamServers = topology.upstreamPorts.map((p, i) => `    server s${i} 127.0.0.1:${p}`).join('\n');
  const sideFiles: Array<{ name: string; text: string }> = [];
  let routing: string;
  let defaultBackend: string;
  if (topology.routes === undefined) {
    routing = '';
    defaultBackend = 'app';
  } else {
    // `base` is Host + path; map_beg picks the first key that prefixes it. A map
    // is how HAProxy users write a large route table (1,000 ACL lines are slower).
    const mapFile = path.join(ctx.dir, 'routes.map');
    routing = `    use_backend %[base,map_beg(${mapFile},not_found)]`;
    defaultBackend = 'not_found';
    sideFiles.push({ name: 'routes.map', text: topology.routes.map((r) => `${r.host}${r.pathPrefix} app`).join('\n') + '\n' });
  }
  const tls = haproxyTls(topology.tls);
  const text = fillTemplate(template, {
    port: String(ctx.port),
    threads: String(ctx.threads ?? 1),
    balance,
    upstream_servers: upstreamServers,
    routing,
    default_backend: defaultBackend,
    ...tls,
  });
  return { mainFile: 'haproxy.cfg', text, sideFiles };
}

/** HAProxy's part of the HTTPS scenarios (see nginxTls): global cache settings, the bind options, the forwarded scheme. */
function haproxyTls(tls: BenchTlsFiles | undefined): { global_tls: string; bind_tls: string; forwarded_proto: string } {
  if (tls === undefined) return { global_tls: '', bind_tls: '', forwarded_proto: 'http' };
  return {
    global_tls: [
      '    # HTTPS scenarios: an in-process session cache of BoringSSL\'s default size and lifetime;',
      '    # session tickets stay on (the default), as uWS cannot turn them off.',
      `    tune.ssl.cachesize ${BENCH_TLS_SESSION_CACHE_ENTRIES}`,
      `    tune.ssl.lifetime ${BENCH_TLS_SESSION_LIFETIME_SECS}`,
    ].join('\n'),
    // The certificate and key in one file; warpdrive's TLS 1.2 list; the client's order decides.
    bind_tls: [
      ` ssl crt ${tls.bundleFile}`,
      'ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3',
      `ciphers ${BENCH_TLS12_CIPHERS}`,
      `ciphersuites ${BENCH_TLS13_SUITES}`,
      `curves ${BENCH_TLS_GROUPS.join(':')}`,
      'prefer-client-ciphers',
    ].join(' '),
    forwarded_proto: 'https',
  };
}

/** TOML basic string: the bench only ever emits host names and paths, but quote them properly anyway. */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

export function renderWarpdrive(topology: BalancedTopology, ctx: RenderContext, template = loadTemplate('warpdrive.toml.tmpl')): RenderedConfig {
  const strategy = strategyOf(topology);
  const instances = topology.upstreamPorts.map((p) => `[[upstreams.app.instances]]\nhost = "127.0.0.1"\nport = ${p}\n`).join('\n');
  const feature = warpdriveFeature(topology.feature);
  const routes =
    topology.routes === undefined
      ? `[[routes]]\npath_prefix = "/"\nupstream = "app"\n${feature.route}`
      : topology.routes.map((r) => `[[routes]]\nhost = ${tomlString(r.host)}\npath_prefix = ${tomlString(r.pathPrefix)}\nupstream = "app"\n`).join('\n');
  const listeners = warpdriveListeners(topology.tls, ctx);
  const cache = topology.cache ? `[cache]\nsize_bytes = ${BENCH_CACHE_BYTES}\n` : '# no cache in this scenario';
  const text = fillTemplate(template, {
    ...listeners,
    threads: String(ctx.threads ?? 1),
    strategy: tomlString(strategy),
    instances,
    routes,
    middleware: feature.middleware,
    cache,
  });
  return { mainFile: 'warpdrive.toml', text, sideFiles: [] };
}

/**
 * warpdrive's ports and `[tls]`: plain HTTP on `ctx.port`, or, in an HTTPS scenario,
 * HTTPS on `ctx.port` with the bench certificate beside the plain listener it always
 * has. Its TLS settings are uWS's own and fixed (native-notes/tls.md).
 */
function warpdriveListeners(tls: BenchTlsFiles | undefined, ctx: RenderContext): { http_port: string; https_port: string; tls: string } {
  if (tls === undefined) return { http_port: String(ctx.port), https_port: '', tls: '' };
  if (ctx.plainHttpPort === undefined) throw new Error('bench: warpdrive in an HTTPS scenario needs a port for its plain-HTTP listener (plainHttpPort)');
  return {
    http_port: String(ctx.plainHttpPort),
    https_port: `https_port = ${ctx.port}`,
    tls: [
      '[tls]',
      "# The certificate the bench made for this run; TLS 1.2-1.3, ciphers and tickets are uWS's own (native-notes/tls.md).",
      'enabled = true',
      `cert_file = ${tomlString(tls.certFile)}`,
      `key_file = ${tomlString(tls.keyFile)}`,
      '',
    ].join('\n'),
  };
}

/**
 * Varnish's command line (no VCL file: `-b` names the upstream and the built-in
 * VCL caches by Cache-Control): one listen address, memory storage of the
 * bench's cache size, and one thread pool, as the other proxies get one
 * worker. `-j none`: no privilege separation, so it runs from the bench's temp
 * directory like the others; `-n`: its working directory there.
 */
export function varnishArgs(topology: BalancedTopology, ctx: RenderContext): string[] {
  if (topology.upstreamPorts.length !== 1 || topology.routes !== undefined) throw new Error('bench: Varnish is set up for one upstream instance and no route table');
  return [
    '-F',
    '-j', 'none',
    '-n', path.join(ctx.dir, 'varnish'),
    '-a', `127.0.0.1:${ctx.port}`,
    '-b', `127.0.0.1:${topology.upstreamPorts[0]}`,
    '-s', `malloc,${BENCH_CACHE_BYTES}`,
    '-p', `thread_pools=${ctx.threads ?? 1}`,
  ];
}

/**
 * The Node.js peer's own small JSON config (read by bench/node-peer-proxy.ts).
 * It always balances round robin: the topology's strategy is not passed on, so
 * in the pool-3-* scenarios other than pool-3 it is not an equivalent peer.
 */
export interface NodePeerConfig {
  readonly port: number;
  readonly upstreamPorts: readonly number[];
  readonly routes: ReadonlyArray<{ readonly host: string; readonly pathPrefix: string }> | undefined;
}

export function renderNodePeer(topology: Topology, ctx: RenderContext): RenderedConfig {
  const config: NodePeerConfig = { port: ctx.port, upstreamPorts: topology.upstreamPorts, routes: topology.routes };
  return { mainFile: 'node-peer.json', text: JSON.stringify(config, null, 2) + '\n', sideFiles: [] };
}
