/**
 * Request coalescing: concurrent misses for one URL send one request upstream
 * (nginx's proxy_cache_lock, Varnish's waiting list). The first becomes the
 * leader and goes upstream; later ones wait for its outcome:
 *
 * - `stored`: the response is in the memory tier; waiters look it up again.
 * - `not-stored`: it turned out not cacheable (private, Set-Cookie, no-store...):
 *   waiters go upstream themselves, at once, and for the next `hitForMissMs`
 *   nobody waits on that URL (Varnish's hit-for-miss), so a private page never
 *   serialises its users.
 * - `failed`: the leader got no usable response (error, client gone): waiters
 *   go upstream themselves.
 * - `timeout`: the leader took longer than the lock timeout: waiters go
 *   upstream themselves, and the next request for the URL leads anew.
 *
 * @module
 */

export type FillOutcome = 'stored' | 'not-stored' | 'failed' | 'timeout';

/** Someone waiting for a leader's response. */
export interface FillWaiter {
  wake(outcome: FillOutcome): void;
}

/** How long a URL whose response was not cacheable is not coalesced (Varnish uses its TTL, 120 s by default). */
export const HIT_FOR_MISS_MS = 120_000;
/** At most this many hit-for-miss URLs are remembered; the oldest are forgotten first. */
const MAX_HIT_FOR_MISS = 10_000;

/** One leader's request in flight, and who waits for it. The leader keeps it to report the outcome. */
export class Fill {
  readonly key: string;
  readonly waiters: FillWaiter[] = [];
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(key: string) {
    this.key = key;
  }
}

/** A Fill: the caller leads; `waiting`: it will be woken; `uncoalesced`: go upstream without leading. */
export type JoinResult = Fill | 'waiting' | 'uncoalesced';

export class RequestCoalescer {
  readonly #fills = new Map<string, Fill>();
  /** URL -> time until which it is not coalesced. */
  readonly #hitForMiss = new Map<string, number>();
  readonly #lockTimeoutMs: number;

  constructor(lockTimeoutMs: number) {
    this.#lockTimeoutMs = lockTimeoutMs;
  }

  /** Number of URLs with a leader in flight (for tests and status). */
  get inFlight(): number {
    return this.#fills.size;
  }

  /**
   * Joins the fill for `key`: a Fill when the caller leads (go upstream and call
   * `complete` with it later), `waiting` (`waiter.wake` will be called exactly
   * once), or `uncoalesced` (go upstream without leading: the URL is
   * hit-for-miss, or locking is off).
   */
  join(key: string, waiter: FillWaiter, now: number): JoinResult {
    if (this.#lockTimeoutMs === 0) return 'uncoalesced';
    const hfm = this.#hitForMiss.get(key);
    if (hfm !== undefined) {
      if (hfm > now) return 'uncoalesced';
      this.#hitForMiss.delete(key);
    }
    const fill = this.#fills.get(key);
    if (fill === undefined) {
      const lead = new Fill(key);
      this.#fills.set(key, lead);
      return lead;
    }
    if (fill.waiters.length === 0) fill.timer = setTimeout(expire, this.#lockTimeoutMs, this, key, fill);
    fill.waiters.push(waiter);
    return 'waiting';
  }

  /** The leader's outcome: wakes every waiter of its fill (none left if the lock timed out). */
  complete(fill: Fill, outcome: Exclude<FillOutcome, 'timeout'>, now: number): void {
    if (outcome === 'not-stored') this.markHitForMiss(fill.key, now);
    else if (outcome === 'stored') this.#hitForMiss.delete(fill.key);
    if (this.#fills.get(fill.key) === fill) this.#fills.delete(fill.key);
    this.#wakeAll(fill, outcome);
  }

  /** Remembers that `key` is not cacheable for a while (also when no leader is in flight). */
  markHitForMiss(key: string, now: number): void {
    this.#hitForMiss.delete(key);
    this.#hitForMiss.set(key, now + HIT_FOR_MISS_MS);
    if (this.#hitForMiss.size > MAX_HIT_FOR_MISS) this.#hitForMiss.delete(this.#hitForMiss.keys().next().value!);
  }

  /** A response for `key` was stored: it is cacheable again. */
  clearHitForMiss(key: string): void {
    this.#hitForMiss.delete(key);
  }

  /** Called by the lock timer. */
  expired(key: string, fill: Fill): void {
    if (this.#fills.get(key) === fill) this.#fills.delete(key);
    this.#wakeAll(fill, 'timeout');
  }

  /** Wakes everyone (shutdown). */
  close(): void {
    for (const [key, fill] of this.#fills) {
      this.#fills.delete(key);
      this.#wakeAll(fill, 'failed');
    }
  }

  #wakeAll(fill: Fill, outcome: FillOutcome): void {
    clearTimeout(fill.timer);
    fill.timer = undefined;
    const waiters = fill.waiters.splice(0);
    for (const waiter of waiters) waiter.wake(outcome);
  }
}

function expire(coalescer: RequestCoalescer, key: string, fill: Fill): void {
  coalescer.expired(key, fill);
}
