import { delay } from './abortable.js';
import { OpenStackError, type OpenStackService } from './errors.js';

/**
 * Time the window keeps beyond its second, for what comes after a request leaves: a slow
 * connection, or a cloud whose busy front counts one request late, brings it closer to the ones
 * after it, so any `floor(rate)` + 1 requests leave a little more than a second apart (one that
 * leaves late is seen to by `windowAfterSent`). 50 ms until 2026-12-05, when 1000 lifecycles on two
 * busy cores put 101 requests in one second at the simulator, twice; the cost is a saturated
 * limiter's pace, 91 % of the rate instead of 95 %.
 */
export const WINDOW_SPARE_MS = 100;

/**
 * Requests per second for one cloud, shared by every client of that cloud in the process, kept
 * as the cloud counts them: at most `floor(rate)` requests in any window of one second (plus
 * WINDOW_SPARE_MS), with the turns spaced evenly across the window and a tenth of its budget
 * allowed at once after a quiet spell. A plain token bucket lets a burst of `rate` go at once and
 * then one every `1/rate` s, so a one-second window could see almost twice the rate; this one
 * never does. Kept as a virtual schedule (no queue): the turns given out are times, each
 * request waits for its own, and leaves no sooner than a window after the request `floor(rate)`
 * before it actually left (a stalled event loop delays some). The rate may change while the
 * process runs (its share of a fleet-wide limit); at 0, requests wait until it is given some.
 */
export class RateLimiter {
  private rate = 0;
  /** Requests per window: floor(rate), at least 1. */
  private perWindow = 1;
  private windowMs = Number.POSITIVE_INFINITY;
  /** The even spacing of turns across a window. */
  private intervalMs = Number.POSITIVE_INFINITY;
  /** How far ahead of its even spacing a turn may go: what makes the burst after a quiet spell. */
  private toleranceMs = 0;
  /** The theoretical time of the next turn if every earlier one had been evenly spaced (GCRA). */
  private theoreticalAt = 0;
  /** The last `perWindow` turns given out: a new turn comes a window after the oldest. */
  private turns = new LatestTurns(1);
  /** When the last `perWindow` requests given turns at the current rate actually left, which a busy event loop can make later than their turns. */
  private sent = new LatestTurns(1);
  /** Counts the changes of rate: a turn given before one goes at its time (see `setRate`). */
  private rateChanges = 0;
  /** Wakes the requests that wait for a rate above 0. */
  private readonly rateGiven = new EventTarget();

  constructor(
    perSecond: number,
    private readonly now: () => number = Date.now,
    /** Told how long each request waited for its turn, or that it was refused (the worker's metrics). */
    private readonly onTurn: (waitMs: number, refused: boolean) => void = () => {},
  ) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) throw new RangeError(`requests per second must be a positive number, got ${String(perSecond)}`);
    this.setRate(perSecond);
  }

  get perSecond(): number {
    return this.rate;
  }

  /**
   * A new rate from now on. Turns already handed out keep their time: a lower rate spaces the
   * requests after them, it never holds back one that was let through.
   */
  setRate(perSecond: number): void {
    if (!Number.isFinite(perSecond) || perSecond < 0) throw new RangeError(`requests per second must be 0 or more, got ${String(perSecond)}`);
    this.rate = perSecond;
    this.rateChanges += 1;
    if (perSecond === 0) {
      this.windowMs = this.intervalMs = Number.POSITIVE_INFINITY;
      this.toleranceMs = 0;
      return;
    }
    // Below one a second, the window stretches: one request per 1/rate seconds.
    this.perWindow = Math.max(1, Math.floor(perSecond));
    this.windowMs = (perSecond < 1 ? 1000 / perSecond : 1000) + WINDOW_SPARE_MS;
    this.intervalMs = this.windowMs / this.perWindow;
    this.toleranceMs = (Math.ceil(this.perWindow / 10) - 1) * this.intervalMs;
    this.turns = this.turns.keeping(this.perWindow);
    this.sent = new LatestTurns(this.perWindow);
    this.rateGiven.dispatchEvent(new Event('rate'));
  }

  /**
   * Waits for this request's turn. A turn further away than `maxWaitMs` is refused at once with a
   * retryable `rateLimited` error, so that a flood queues for a bounded time, never forever; at a
   * rate of 0 the request waits up to `maxWaitMs` for one.
   */
  async acquire(what: { service: OpenStackService; operation: string }, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const startedAt = this.now();
    while (this.rate === 0) {
      const leftMs = maxWaitMs - (this.now() - startedAt);
      if (leftMs <= 0 || !(await this.rateWithin(leftMs, signal))) {
        this.onTurn(maxWaitMs, true);
        throw new OpenStackError(
          { ...what, kind: 'rateLimited', retryable: true, retryAfterMs: Math.max(1, Math.ceil(maxWaitMs)) },
          `this worker process had no share of the cloud's requests_per_second for ${Math.ceil(maxWaitMs)} ms (it is still being counted into the fleet)`,
        );
      }
    }
    const now = this.now();
    const windowFull = this.turns.full ? this.turns.oldest + this.windowMs : Number.NEGATIVE_INFINITY;
    const turn = Math.max(now, this.theoreticalAt - this.toleranceMs, windowFull, this.turns.newest);
    const waitMs = turn - now;
    const waitedMs = now - startedAt;
    if (waitMs + waitedMs > maxWaitMs) {
      this.onTurn(waitMs + waitedMs, true);
      throw new OpenStackError(
        { ...what, kind: 'rateLimited', retryable: true, retryAfterMs: Math.ceil(waitMs) },
        `this worker's limit of ${this.rate} requests per second to the cloud would hold the request for ${Math.ceil(waitMs + waitedMs)} ms (at most ${maxWaitMs} ms)`,
      );
    }
    const rateChanges = this.rateChanges;
    this.theoreticalAt = Math.max(this.theoreticalAt, turn) + this.intervalMs;
    this.turns.push(turn);
    this.onTurn(waitMs + waitedMs, false);
    if (waitMs > 0) await delay(waitMs, signal);
    if (rateChanges === this.rateChanges) await this.windowAfterSent(signal);
  }

  /**
   * The turns were given out ahead; a stalled event loop (a long collection, a large answer
   * parsed) wakes the requests due during the stall late and together, while the turns a window
   * later still come on time: 101 in one second. So each request leaves only a window after the
   * `perWindow`-th request before it actually left; after a stall the schedule slides by it.
   */
  private async windowAfterSent(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.now();
      const allowedAt = this.sent.full ? this.sent.oldest + this.windowMs : Number.NEGATIVE_INFINITY;
      if (now >= allowedAt) {
        this.sent.push(now);
        return;
      }
      await delay(allowedAt - now, signal);
    }
  }

  /** True once a rate above 0 is given, false after `ms`; rejects when `signal` aborts. */
  private rateWithin(ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.rateGiven.removeEventListener('rate', onRate);
        signal?.removeEventListener('abort', onAbort);
      };
      const done = (given: boolean): void => {
        cleanup();
        resolve(given);
      };
      const onRate = (): void => done(true);
      const onAbort = (): void => {
        cleanup();
        reject(signal!.reason);
      };
      const timer = setTimeout(() => done(false), ms);
      this.rateGiven.addEventListener('rate', onRate, { once: true });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * The latest turns, up to a capacity, in a ring: a request costs the same at a rate of 10,000 a
 * second (the config's bound) as at 1.
 */
class LatestTurns {
  private readonly ring: number[];
  /** Where the next turn goes, which is the oldest's place once the ring is full. */
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<number>(capacity);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Only when full: then it sits where the next turn goes. */
  get oldest(): number {
    return this.ring[this.next]!;
  }

  get newest(): number {
    return this.count === 0 ? Number.NEGATIVE_INFINITY : this.ring[(this.next + this.capacity - 1) % this.capacity]!;
  }

  push(turn: number): void {
    this.ring[this.next] = turn;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** The newest `capacity` of these turns, in a ring of that size. */
  keeping(capacity: number): LatestTurns {
    const kept = new LatestTurns(capacity);
    const from = Math.max(0, this.count - capacity);
    for (let i = from; i < this.count; i += 1) kept.push(this.ring[(this.next - this.count + i + this.capacity) % this.capacity]!);
    return kept;
  }
}
