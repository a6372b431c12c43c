/**
 * A proxy worker thread's entry (`server.worker_threads` above 1): builds its
 * own proxy stack from the plan the main thread sends, listens on the shared
 * port, follows the supervisor through the main thread, and drains on `stop`.
 *
 * A worker must always end by closing its uWS app, never be terminated from
 * outside: uWS's sockets are libuv handles that only JavaScript can close, and
 * Node aborts the whole process (`uv_loop_close() while having open handles`)
 * when a worker's loop is torn down with them open. So an uncaught exception
 * closes everything here and ends the thread, and the main thread sends
 * `abort`, not `Worker.terminate()`, when a drain overruns.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { ProxyStack } from '../proxy-stack.js';
import { setInstanceStateReporter } from '../upstream/state-events.js';
import type { FromProxyWorker, ProxyWorkerData, ToProxyWorker } from './protocol.js';
import { HealthMirror } from './health-relay.js';
import { ChallengeMirror } from '../tls/thread-tls.js';
import type { InstalledCertificate } from '../tls/live-files.js';
import { RelayedSupervisor } from './supervisor-relay.js';

if (!parentPort) throw new Error('src/threads/proxy-worker.ts is a worker_threads entry; start it through ProxyWorkers');
const port = parentPort;
const data = workerData as ProxyWorkerData;

function send(message: FromProxyWorker): void {
  port.postMessage(message);
}

const log = createLogger(`thread ${data.thread}`);
// Ejections on this thread are logged by the main thread, once for all threads; readiness
// comes from the supervisor to every thread alike, and the main thread logs its own copy.
setInstanceStateReporter((event) => {
  if (event.kind === 'ejected' || event.kind === 'restored' || event.kind === 'half_open') send({ type: 'instanceState', event });
});
/** Instances an operator drained (admin API); applied once the stack exists. */
let drained: ReadonlySet<string> = new Set(data.drained);
/** Replaced on reload: the units change, and the new generation links to the new set. */
let supervisor = data.supervisor === undefined ? undefined : new RelayedSupervisor(data.supervisor);
let stack: ProxyStack | undefined;
const health = new HealthMirror();
/** The main thread's ACME answers, mirrored (the CA may reach this thread). */
/** Certificates that arrived before this thread's stack was listening. */
let certificatesDuringStart: readonly InstalledCertificate[] | undefined;
const challenges = data.tls === undefined ? undefined : new ChallengeMirror(data.tls.challenges, (token) => port.postMessage({ type: 'acmeLookup', token } satisfies FromProxyWorker));
/** The main thread's health present to apply to the next generation (start, then each reload). */
let healthPresent = data.health;
/** The configuration this thread serves (replaced on reload). */
let plan = data.plan;
let ending = false;
/** A `stop` that arrived while the stack was still starting (a sibling failed to start): run it once started. */
let stopBeforeStart: number | undefined;

/** Closes the listener and every connection at once and lets the thread end. */
function endNow(): void {
  if (ending) return;
  ending = true;
  const closing = stack;
  stack = undefined;
  closing?.stopListening();
  closing?.closeConnections();
  void closing?.close().catch(() => undefined);
  port.close();
}

process.on('uncaughtException', (error) => {
  log.error(`uncaught exception, closing this proxy thread: ${error.stack ?? error.message}`);
  process.exitCode = 1;
  endNow();
});

port.on('message', (message: ToProxyWorker) => {
  switch (message.type) {
    case 'supervisor':
      supervisor?.deliver(message.event);
      return;
    case 'health':
      health.apply(message.message);
      return;
    case 'acmeChallenge':
      challenges?.apply(message.change);
      return;
    case 'tlsCertificates':
      // While the stack is still starting, remember them: it swaps them in once it listens.
      if (stack === undefined) certificatesDuringStart = message.certificates;
      else stack.swapCertificates(message.certificates).catch((error: unknown) => log.error(`could not swap certificates: ${String(error)}`));
      return;
    case 'reload':
      reload(message);
      return;
    case 'cacheInvalidate':
      stack?.cache?.cache.invalidate(message.patterns, 'relayed');
      return;
    case 'stop':
      if (stack === undefined && !ending) stopBeforeStart = message.deadline;
      else void stop(message.deadline);
      return;
    case 'abort':
      endNow();
      return;
    case 'collect':
      if (stack !== undefined) send({ type: 'snapshot', id: message.id, snapshot: stack.snapshot() });
      return;
    case 'drained':
      drained = new Set(message.ids);
      stack?.setDrained(drained);
      return;
    case 'reopenLogFile':
      send({ type: 'logFileReopened', id: message.id, message: stack?.reopenLogFile() ?? 'not running' });
      return;
    case 'crashForTest':
      setImmediate(() => {
        throw new Error('crash requested by a test');
      });
      return;
  }
});

function reload(message: Extract<ToProxyWorker, { type: 'reload' }>): void {
  if (stack === undefined || ending) return;
  try {
    supervisor = message.supervisor === undefined ? undefined : new RelayedSupervisor(message.supervisor);
    healthPresent = message.health;
    stack.reload(message.plan);
    plan = message.plan;
    send({ type: 'reloaded' });
  } catch (error) {
    log.error(`reload failed on this thread, keeping the previous configuration: ${error instanceof Error ? error.message : String(error)}`);
    send({ type: 'reloadFailed', message: error instanceof Error ? error.message : String(error) });
  }
}

async function stop(deadline: number): Promise<void> {
  const stopping = stack;
  if (stopping) {
    stopping.stopListening();
    await stopping.drain(deadline, plan.server.shutdownTimeoutMs);
  }
  // An `abort` during the drain has closed everything already.
  if (ending) return;
  ending = true;
  stack = undefined;
  await stopping?.close();
  send({ type: 'stopped' });
  // Nothing of ours is left on the event loop; closing the port lets the thread end.
  port.close();
}

try {
  stack = await ProxyStack.start(data.plan, {
    port: data.port,
    listen: 'shared',
    supervisor: () => supervisor,
    thread: data.thread,
    // The main thread probes; this thread mirrors its conclusions, from the present on.
    activeHealthChecks: false,
    onGeneration: (generation) => health.use(generation, healthPresent),
    tls:
      data.tls === undefined
        ? undefined
        : { httpsPort: data.tls.httpsPort, acmeDomains: data.tls.acmeDomains, certificates: data.tls.certificates, challenges: challenges! },
  });
  stack.setDrained(drained);
  // This thread's own invalidations (unsafe requests, purges) go to the main thread, which relays them.
  const cache = stack.cache?.cache;
  if (cache !== undefined) cache.onLocalInvalidation = (patterns) => send({ type: 'cacheInvalidate', patterns: [...patterns] });
  send({ type: 'listening' });
  if (certificatesDuringStart !== undefined) await stack.swapCertificates(certificatesDuringStart);
  if (stopBeforeStart !== undefined) void stop(stopBeforeStart);
} catch (error) {
  send({ type: 'startFailed', message: error instanceof Error ? error.message : String(error) });
  endNow();
}
