import { delay } from './abortable.js';
import { OpenStackError, type OpenStackService } from './errors.js';

/**
 * Requests per second for one cloud, shared by every client of that cloud in the process: a
 * token bucket (as a virtual schedule, so no queue or timer is kept) that lets a burst of up to
 * `perSecond` requests through at once and then spaces them evenly.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  /** How far ahead of its even spacing a request may go: what makes the burst. */
  private readonly toleranceMs: number;
  /** The theoretical time of the next request if every earlier one had been evenly spaced (GCRA). */
  private theoreticalAt = 0;

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    /** Told how long each request waited for its turn, or that it was refused (the worker's metrics). */
    private readonly onTurn: (waitMs: number, refused: boolean) => void = () => {},
  ) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) throw new RangeError(`requests per second must be a positive number, got ${String(perSecond)}`);
    this.intervalMs = 1000 / perSecond;
    this.toleranceMs = (Math.max(1, Math.floor(perSecond)) - 1) * this.intervalMs;
  }

  /**
   * Waits for this request's turn. A turn further away than `maxWaitMs` is refused at once with a
   * retryable `rateLimited` error, so that a flood queues for a bounded time, never forever.
   */
  async acquire(what: { service: OpenStackService; operation: string }, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const now = this.now();
    const slot = Math.max(this.theoreticalAt, now);
    const waitMs = Math.max(0, slot - this.toleranceMs - now);
    if (waitMs > maxWaitMs) {
      this.onTurn(waitMs, true);
      throw new OpenStackError(
        { ...what, kind: 'rateLimited', retryable: true, retryAfterMs: Math.ceil(waitMs) },
        `this worker's limit of ${this.perSecond} requests per second to the cloud would hold the request for ${Math.ceil(waitMs)} ms (at most ${maxWaitMs} ms)`,
      );
    }
    this.theoreticalAt = slot + this.intervalMs;
    this.onTurn(waitMs, false);
    if (waitMs > 0) await delay(waitMs, signal);
  }
}
