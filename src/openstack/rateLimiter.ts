import { delay } from './abortable.js';
import { OpenStackError, type OpenStackService } from './errors.js';

/**
 * Requests per second for one cloud, shared by every client of that cloud in the process: a
 * token bucket (as a virtual schedule, so no queue or timer is kept) that lets a burst of up to
 * `perSecond` requests through at once and then spaces them evenly. The rate may change while
 * the process runs (its share of a fleet-wide limit); at 0 requests wait until it is given some.
 */
export class RateLimiter {
  private rate = 0;
  private intervalMs = Number.POSITIVE_INFINITY;
  /** How far ahead of its even spacing a request may go: what makes the burst. */
  private toleranceMs = 0;
  /** The theoretical time of the next request if every earlier one had been evenly spaced (GCRA). */
  private theoreticalAt = 0;
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
    this.intervalMs = perSecond === 0 ? Number.POSITIVE_INFINITY : 1000 / perSecond;
    this.toleranceMs = perSecond === 0 ? 0 : (Math.max(1, Math.floor(perSecond)) - 1) * this.intervalMs;
    if (perSecond > 0) this.rateGiven.dispatchEvent(new Event('rate'));
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
    const slot = Math.max(this.theoreticalAt, now);
    const waitMs = Math.max(0, slot - this.toleranceMs - now);
    const waitedMs = now - startedAt;
    if (waitMs + waitedMs > maxWaitMs) {
      this.onTurn(waitMs + waitedMs, true);
      throw new OpenStackError(
        { ...what, kind: 'rateLimited', retryable: true, retryAfterMs: Math.ceil(waitMs) },
        `this worker's limit of ${this.rate} requests per second to the cloud would hold the request for ${Math.ceil(waitMs + waitedMs)} ms (at most ${maxWaitMs} ms)`,
      );
    }
    this.theoreticalAt = slot + this.intervalMs;
    this.onTurn(waitMs + waitedMs, false);
    if (waitMs > 0) await delay(waitMs, signal);
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
