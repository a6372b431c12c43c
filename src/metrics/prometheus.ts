/**
 * The Prometheus text exposition format (version 0.0.4) of the fleet's numbers:
 * what `GET /metrics` on the admin listener returns.
 *
 * Written by hand rather than with prom-client: prom-client finds a labelled
 * series per `inc()` by building a key from the label values (a string and a map
 * lookup per request), which the request path cannot afford, and its cross-process
 * aggregation is built for `cluster` workers, not for worker threads whose counters
 * live in per-route blocks. Here the request path only increments typed arrays
 * (thread-metrics.ts), threads are summed at scrape time (aggregate.ts), and this
 * module turns the sums into text.
 *
 * Only series that have been observed are written (a route that got no POST has no
 * POST series), which keeps the output small with many routes.
 *
 * @module
 */
import type { UnitStatus } from '../supervisor/client.js';
import type { FleetTotals, RouteTotals } from './aggregate.js';
import { addHistogram, emptyHistogram, latencyBucketsMs } from './histogram.js';
import { methodLabels, statusClassLabels } from './thread-metrics.js';
import type { CacheSnapshot } from './thread-snapshot.js';

export interface ProcessFacts {
  readonly version: string;
  /** Epoch seconds. */
  readonly startTimeSeconds: number;
  readonly cpuSeconds: number;
  readonly residentBytes: number;
  readonly proxyThreads: number;
  readonly generation: number;
  readonly reloads: { readonly ok: number; readonly failed: number };
  /** The certificates served now, and the ACME domains' state; undefined without TLS. */
  readonly tls: TlsFacts | undefined;
}

export interface TlsFacts {
  readonly certificates: readonly { readonly names: readonly string[]; readonly source: string; readonly notAfterSeconds: number }[];
  readonly acme: readonly { readonly domain: string; readonly hasCertificate: boolean; readonly failing: boolean }[];
}

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels);
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function number(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e6) / 1e6);
}

class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  /** A family with one unlabelled sample. */
  single(name: string, type: 'counter' | 'gauge', help: string, value: number): void {
    this.family(name, type, help);
    this.sample(name, {}, value);
  }

  sample(name: string, labels: Labels, value: number): void {
    this.#lines.push(`${name}${labelText(labels)} ${number(value)}`);
  }

  histogram(name: string, labels: Labels, h: { counts: number[]; sumMs: number }): void {
    let cumulative = 0;
    for (let i = 0; i < latencyBucketsMs.length; i++) {
      cumulative += h.counts[i]!;
      this.sample(`${name}_bucket`, { ...labels, le: String(latencyBucketsMs[i]! / 1000) }, cumulative);
    }
    cumulative += h.counts[latencyBucketsMs.length]!;
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, cumulative);
    this.sample(`${name}_sum`, labels, h.sumMs / 1000);
    this.sample(`${name}_count`, labels, cumulative);
  }

  text(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}

function routeLabels(r: RouteTotals): Labels {
  return { route: r.route, upstream: r.upstream };
}

/** The whole /metrics page. */
export function renderPrometheus(totals: FleetTotals, processes: readonly UnitStatus[], facts: ProcessFacts): string {
  const out = new Exposition();

  out.family('warpdrive_requests_total', 'counter', 'Requests answered, by route (1-based, "none" before routing), upstream, method and status class.');
  for (const r of totals.routes) {
    for (let m = 0; m < methodLabels.length; m++) {
      for (let c = 0; c < statusClassLabels.length; c++) {
        const count = r.requests[m * statusClassLabels.length + c]!;
        if (count > 0) out.sample('warpdrive_requests_total', { ...routeLabels(r), method: methodLabels[m]!, code: statusClassLabels[c]! }, count);
      }
    }
  }

  out.family('warpdrive_request_duration_seconds', 'histogram', 'Time from accepting a request to the end of its response, as the client saw it.');
  for (const r of totals.routes) if (r.duration.counts.some((c) => c > 0)) out.histogram('warpdrive_request_duration_seconds', routeLabels(r), r.duration);

  out.family('warpdrive_upstream_response_duration_seconds', 'histogram', 'Time from the first attempt on an upstream to the end of its response (retries included).');
  const byUpstream = new Map<string, { counts: number[]; sumMs: number }>();
  for (const r of totals.routes) {
    if (!r.upstreamDuration.counts.some((c) => c > 0)) continue;
    let h = byUpstream.get(r.upstream);
    if (h === undefined) byUpstream.set(r.upstream, (h = emptyHistogram()));
    addHistogram(h, r.upstreamDuration);
  }
  for (const [upstream, h] of byUpstream) out.histogram('warpdrive_upstream_response_duration_seconds', { upstream }, h);

  out.family('warpdrive_retries_total', 'counter', 'Upstream attempts after the first one (another instance, or a fresh connection).');
  for (const r of totals.routes) if (r.retries > 0) out.sample('warpdrive_retries_total', routeLabels(r), r.retries);

  out.family('warpdrive_upstream_errors_total', 'counter', 'Answers warpdrive gave for a failure (502, 503, 504...), by error code.');
  for (const r of totals.routes) for (const [code, count] of r.errors) out.sample('warpdrive_upstream_errors_total', { ...routeLabels(r), code }, count);

  out.family('warpdrive_requests_in_flight', 'gauge', 'Requests being served, per proxy thread.');
  for (const t of totals.threads) out.sample('warpdrive_requests_in_flight', { thread: String(t.thread) }, t.inFlight);
  out.family('warpdrive_websockets_open', 'gauge', 'Open WebSocket connections, per proxy thread.');
  for (const t of totals.threads) out.sample('warpdrive_websockets_open', { thread: String(t.thread) }, t.websockets);

  out.family('warpdrive_instance_health', 'gauge', 'Active health of each instance: 1 for its current state (up, down, unknown = no check decided yet).');
  for (const i of totals.instances) {
    for (const state of ['up', 'down', 'unknown'] as const) out.sample('warpdrive_instance_health', { upstream: i.upstream, instance: i.id, state }, i.health === state ? 1 : 0);
  }
  out.family('warpdrive_instance_process_ready', 'gauge', 'Whether the supervised process of an instance is ready (supervised instances only).');
  for (const i of totals.instances) if (i.supervised) out.sample('warpdrive_instance_process_ready', { upstream: i.upstream, instance: i.id }, i.processReady ? 1 : 0);
  out.family('warpdrive_instance_drained', 'gauge', 'Whether an operator has drained the instance (admin API).');
  for (const i of totals.instances) out.sample('warpdrive_instance_drained', { upstream: i.upstream, instance: i.id }, i.drained ? 1 : 0);
  out.family('warpdrive_instance_ejected_threads', 'gauge', 'Proxy threads whose circuit breaker keeps the instance out now (passive health is per thread).');
  for (const i of totals.instances) out.sample('warpdrive_instance_ejected_threads', { upstream: i.upstream, instance: i.id }, i.ejectedOn);
  out.family('warpdrive_instance_available_threads', 'gauge', 'Proxy threads that would send the instance a request now.');
  for (const i of totals.instances) out.sample('warpdrive_instance_available_threads', { upstream: i.upstream, instance: i.id }, i.availableOn);
  out.family('warpdrive_instance_in_flight', 'gauge', 'Requests and WebSockets using the instance now.');
  for (const i of totals.instances) out.sample('warpdrive_instance_in_flight', { upstream: i.upstream, instance: i.id }, i.inFlight);
  out.family('warpdrive_instance_requests_total', 'counter', 'Upstream attempts on the instance (restart from 0 when a reload rebuilds its upstream).');
  for (const i of totals.instances) out.sample('warpdrive_instance_requests_total', { upstream: i.upstream, instance: i.id }, i.requests);
  out.family('warpdrive_instance_failures_total', 'counter', 'Attempts that failed (connect, reset, timeout; 5xx with count_5xx).');
  for (const i of totals.instances) out.sample('warpdrive_instance_failures_total', { upstream: i.upstream, instance: i.id }, i.failures);
  out.family('warpdrive_instance_ejections_total', 'counter', 'Passive ejections, summed over proxy threads.');
  for (const i of totals.instances) out.sample('warpdrive_instance_ejections_total', { upstream: i.upstream, instance: i.id }, i.ejections);

  out.family('warpdrive_process_up', 'gauge', 'Whether a supervised process is running and ready.');
  for (const p of processes) out.sample('warpdrive_process_up', { process: p.unit, upstream: p.upstream }, p.state === 'ready' ? 1 : 0);
  out.family('warpdrive_process_restarts_total', 'counter', 'Restarts of a supervised process since warpdrive started (crashes and requested restarts).');
  for (const p of processes) out.sample('warpdrive_process_restarts_total', { process: p.unit, upstream: p.upstream }, p.restarts);
  out.family('warpdrive_process_cpu_percent', 'gauge', 'CPU use of a supervised process group at the last sample, in percent of one core.');
  for (const p of processes) out.sample('warpdrive_process_cpu_percent', { process: p.unit, upstream: p.upstream }, p.cpu);
  out.family('warpdrive_process_resident_memory_bytes', 'gauge', 'Resident memory of a supervised process group at the last sample.');
  for (const p of processes) out.sample('warpdrive_process_resident_memory_bytes', { process: p.unit, upstream: p.upstream }, p.rssBytes);

  if (totals.cache !== undefined) renderCache(out, totals.cache);
  if (facts.tls !== undefined) renderTls(out, facts.tls);

  out.family('warpdrive_info', 'gauge', 'Always 1; the labels say which warpdrive runs.');
  out.sample('warpdrive_info', { version: facts.version }, 1);
  out.single('warpdrive_proxy_threads', 'gauge', 'Proxy threads configured (server.worker_threads).', facts.proxyThreads);
  out.single('warpdrive_config_generation', 'gauge', 'Identifier of the configuration generation the main thread serves (changes on each reload).', facts.generation);
  out.family('warpdrive_reloads_total', 'counter', 'Reloads since start, by result.');
  out.sample('warpdrive_reloads_total', { result: 'ok' }, facts.reloads.ok);
  out.sample('warpdrive_reloads_total', { result: 'failed' }, facts.reloads.failed);
  out.single('process_cpu_seconds_total', 'counter', 'CPU time of the warpdrive process (all threads), user and system.', facts.cpuSeconds);
  out.single('process_resident_memory_bytes', 'gauge', 'Resident memory of the warpdrive process.', facts.residentBytes);
  out.single('process_start_time_seconds', 'gauge', 'When warpdrive started, in seconds since the epoch.', facts.startTimeSeconds);
  return out.text();
}

function renderCache(out: Exposition, c: CacheSnapshot): void {
  out.family('warpdrive_cache_hits_total', 'counter', 'Requests answered from the cache, by the tier the entry came from (redis: found in Redis, then kept in memory).');
  out.sample('warpdrive_cache_hits_total', { tier: 'memory' }, c.hits - c.redisHits);
  out.sample('warpdrive_cache_hits_total', { tier: 'redis' }, c.redisHits);
  out.single('warpdrive_cache_stale_hits_total', 'counter', 'Stale entries served while they were revalidated in the background (stale-while-revalidate).', c.staleHits);
  out.single('warpdrive_cache_misses_total', 'counter', 'Cacheable requests that went to the upstream (not in the cache, or stale and revalidated).', c.misses);
  out.single('warpdrive_cache_stored_total', 'counter', 'Responses stored.', c.stored);
  out.single('warpdrive_cache_revalidated_total', 'counter', 'Stored entries refreshed by a 304 from the upstream.', c.revalidated);
  out.single('warpdrive_cache_served_on_error_total', 'counter', 'Stale entries served because the upstream failed (stale-if-error).', c.servedOnError);
  out.single('warpdrive_cache_collapsed_total', 'counter', 'Requests that waited for another request for the same URL instead of going upstream.', c.collapsed);
  out.single('warpdrive_cache_evictions_total', 'counter', 'Entries dropped from memory to make room.', c.evictions);
  out.single('warpdrive_cache_entries', 'gauge', 'Entries in memory, all proxy threads.', c.entries);
  out.single('warpdrive_cache_memory_bytes', 'gauge', 'What the entries in memory count against size_bytes (headers, bodies, per-entry overhead).', c.bytes);
  out.single('warpdrive_cache_memory_limit_bytes', 'gauge', 'size_bytes: the memory budget of the cache.', c.capacityBytes);
}

function renderTls(out: Exposition, tls: TlsFacts): void {
  out.family('warpdrive_tls_certificate_expiry_timestamp_seconds', 'gauge', 'When each certificate served now expires (seconds since the epoch), by the names it covers and where it comes from.');
  for (const c of tls.certificates) out.sample('warpdrive_tls_certificate_expiry_timestamp_seconds', { names: c.names.join(','), source: c.source }, c.notAfterSeconds);
  out.family('warpdrive_tls_acme_certificate_present', 'gauge', 'Whether an ACME domain has a certificate (0 while its first order is pending or failing).');
  for (const d of tls.acme) out.sample('warpdrive_tls_acme_certificate_present', { domain: d.domain }, d.hasCertificate ? 1 : 0);
  out.family('warpdrive_tls_acme_renewal_failing', 'gauge', 'Whether the last order or renewal of an ACME domain failed (it is retried with backoff).');
  for (const d of tls.acme) out.sample('warpdrive_tls_acme_renewal_failing', { domain: d.domain }, d.failing ? 1 : 0);
}
