import { ApplicationFailure } from '@temporalio/common';
import { abortable, delay } from '../openstack/abortable.js';
import { FAILURE_TYPES } from '../contract/names.js';

export interface ServerCapOptions {
  /** `max_servers`. */
  maxServers: number;
  /** Counts this deployment's servers in the project (a list of the cloud's servers). */
  count: () => Promise<number>;
  /** For messages: which cloud. */
  cloud: string;
  /** A count is reused this long; default 5 s. */
  recountMs?: number;
  /** How long a create waits for room before it gives up as "no capacity"; default 40 s. */
  maxWaitMs?: number;
  now?: () => number;
}

/**
 * Nodepool's `max-servers`: a create goes ahead only while this deployment's servers in the
 * project, counted by a list every few seconds at most, plus the creates this process has made
 * or is making since, stay under the cap. Across worker processes the count catches up within a
 * recount, so several processes may overshoot it briefly; within one process it is exact.
 * When full, the create waits a bounded time and then fails the way a full quota does
 * (`OpenStackQuotaExceeded`), which the lifecycle waits out without spending a launch attempt.
 */
export class ServerCap {
  private counted: { servers: number; startedAt: number; at: number } | undefined;
  private counting: Promise<void> | undefined;
  private madeSince: number[] = [];
  private inFlight = 0;
  private readonly recountMs: number;
  private readonly maxWaitMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ServerCapOptions) {
    this.recountMs = options.recountMs ?? 5000;
    this.maxWaitMs = options.maxWaitMs ?? 40_000;
    this.now = options.now ?? Date.now;
  }

  /** Room for one more server; the returned function says whether the create made one. */
  async reserve(signal: AbortSignal): Promise<(made: boolean) => void> {
    const giveUpAt = this.now() + this.maxWaitMs;
    for (;;) {
      if (!this.counted || this.now() - this.counted.at >= this.recountMs) await this.recount(signal);
      const { servers, startedAt } = this.counted!;
      this.madeSince = this.madeSince.filter((at) => at >= startedAt);
      const used = servers + this.madeSince.length + this.inFlight;
      if (used < this.options.maxServers) {
        this.inFlight += 1;
        let done = false;
        return (made) => {
          if (done) return;
          done = true;
          this.inFlight -= 1;
          if (made) this.madeSince.push(this.now());
        };
      }
      const waitMs = Math.min(this.recountMs, giveUpAt - this.now());
      if (waitMs <= 0) {
        throw ApplicationFailure.create({
          message: `max_servers ${this.options.maxServers} of ${this.options.cloud} reached (${used} servers of this deployment): no capacity for another within ${Math.round(this.maxWaitMs / 1000)} s`,
          type: FAILURE_TYPES.openStackQuotaExceeded,
          nonRetryable: true,
        });
      }
      await delay(waitMs, signal);
    }
  }

  /** Shared by concurrent creates, so it runs without any one's signal; each stops waiting on its own. */
  private async recount(signal: AbortSignal): Promise<void> {
    this.counting ??= (async () => {
      const startedAt = this.now();
      try {
        const servers = await this.options.count();
        this.counted = { servers, startedAt, at: this.now() };
      } finally {
        this.counting = undefined;
      }
    })();
    await abortable(this.counting, signal);
  }
}
