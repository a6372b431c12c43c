/**
 * Messages between the main thread and a proxy worker (`server.worker_threads`).
 *
 * @module
 */
import type { InvalidationPattern } from '../cache/invalidation-pattern.js';
import type { RuntimePlan } from '../config/types.js';
import type { ThreadSnapshot } from '../metrics/thread-snapshot.js';
import type { InstanceStateEvent } from '../upstream/state-events.js';
import type { SupervisorEvent } from '../supervisor/protocol.js';
import type { HealthMessage } from './health-relay.js';
import type { ChallengeChange } from '../tls/challenge-board.js';
import type { InstalledCertificate } from '../tls/live-files.js';
import type { RelayedSupervisorData } from './supervisor-relay.js';

/** What a proxy worker starts from (`workerData`); all of it survives structured cloning. */
export interface ProxyWorkerData {
  readonly plan: RuntimePlan;
  /** The port the main thread reserved; every proxy thread listens on it with SO_REUSEPORT. */
  readonly port: number;
  /** 1 .. worker_threads - 1 (the main thread is 0); shown as `thread=` in the access log. */
  readonly thread: number;
  readonly supervisor: RelayedSupervisorData | undefined;
  /** What the main thread's active health checks have concluded so far. */
  readonly health: readonly HealthMessage[];
  /** Instances an operator has drained (admin API), by id. */
  readonly drained: readonly string[];
  /** With [tls] enabled: the HTTPS port, the certificates now served and pending ACME answers. */
  readonly tls: WorkerTlsData | undefined;
}

export interface WorkerTlsData {
  readonly httpsPort: number;
  readonly acmeDomains: readonly string[];
  readonly certificates: readonly InstalledCertificate[];
  readonly challenges: readonly ChallengeChange[];
}

export type ToProxyWorker =
  | { readonly type: 'supervisor'; readonly event: SupervisorEvent }
  | { readonly type: 'health'; readonly message: HealthMessage }
  /** New or renewed certificates: build the next HTTPS listener with these (open connections keep theirs). */
  | { readonly type: 'tlsCertificates'; readonly certificates: readonly InstalledCertificate[] }
  /** An ACME HTTP-01 answer published or withdrawn by the main thread. */
  | { readonly type: 'acmeChallenge'; readonly change: ChallengeChange }
  /**
   * Build a generation from `plan` and swap it in (a reload). `supervisor` and `health`
   * are the main thread's present, as at start.
   */
  | { readonly type: 'reload'; readonly plan: RuntimePlan; readonly supervisor: RelayedSupervisorData | undefined; readonly health: readonly HealthMessage[] }
  /** Invalidate these in the thread's cache memory (from a NOTIFY, a purge, or another thread). */
  | { readonly type: 'cacheInvalidate'; readonly patterns: readonly InvalidationPattern[] }
  /** Stop accepting, drain until `deadline` (a Date.now() value), close, report `stopped`, exit. */
  | { readonly type: 'stop'; readonly deadline: number }
  /** The drain deadline has passed: cut every connection now and exit. */
  | { readonly type: 'abort' }
  /** Report this thread's counters and view of the instances (`snapshot` with the same id). */
  | { readonly type: 'collect'; readonly id: number }
  /** The instances an operator has drained now (the rest are enabled). */
  | { readonly type: 'drained'; readonly ids: readonly string[] }
  /** SIGUSR1: open the access-log file again (`logFileReopened` with the same id). */
  | { readonly type: 'reopenLogFile'; readonly id: number }
  /** Throw an uncaught exception, as a bug would (tests of the restart). */
  | { readonly type: 'crashForTest' };

export type FromProxyWorker =
  | { readonly type: 'listening' }
  /** The CA asked this thread for an ACME answer it does not hold: the main thread looks in the store (another node's order). */
  | { readonly type: 'acmeLookup'; readonly token: string }
  | { readonly type: 'startFailed'; readonly message: string }
  /** The reload's generation serves new requests on this thread. */
  | { readonly type: 'reloaded' }
  | { readonly type: 'reloadFailed'; readonly message: string }
  | { readonly type: 'stopped' }
  | { readonly type: 'snapshot'; readonly id: number; readonly snapshot: ThreadSnapshot }
  | { readonly type: 'logFileReopened'; readonly id: number; readonly message: string }
  /** An ejection or restoration on this thread, for the main thread to log once for all (upstream/state-events.ts). */
  | { readonly type: 'instanceState'; readonly event: InstanceStateEvent }
  /** An invalidation that started on this thread (an unsafe request, a purge), for the others and Redis. */
  | { readonly type: 'cacheInvalidate'; readonly patterns: readonly InvalidationPattern[] };
