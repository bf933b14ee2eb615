import type { CloudLimits } from '../config/limits.js';

// The arithmetic of a fleet-wide `cloud_limits`: each worker process of a task queue takes a
// share of each limit from how many processes Temporal's poller list shows and where it stands in
// that list (docs/architecture.md, "Limits for the whole fleet").

/**
 * How old a poller's last poll may be for it to count as a live process. An idle worker's
 * activity polls are long polls that the server holds up to a minute, so its last poll can be
 * that old: the dev server showed idle workers at up to 61.2 s. 15 s more covers a re-poll
 * that a busy event loop sends late.
 */
export const LIVE_POLL_MS = 75_000;

/** This process's place in the fleet: how many processes, and its index in their sorted identities. */
export interface FleetPosition {
  size: number;
  rank: number;
}

/** What this process may use of one cloud's limits. */
export interface CloudShareLimits {
  requestsPerSecond: number;
  createSlots: number;
}

export interface Poller {
  identity: string;
  /** Epoch milliseconds of its last poll; undefined when the server did not say. */
  lastAccessMs: number | undefined;
}

/**
 * The identities of the processes that polled within `LIVE_POLL_MS`, sorted, each once. Ages are
 * on Temporal's clock as far as the list shows it: from the newest poll when the local clock is
 * ahead of that, so a host whose clock runs fast never takes live processes for dead ones (a slow
 * one only counts a dead process a little longer, the safe direction).
 */
export function liveIdentities(pollers: readonly Poller[], now: number): string[] {
  const newest = Math.max(...pollers.map((poller) => poller.lastAccessMs ?? Number.NEGATIVE_INFINITY));
  const reference = Math.min(now, newest);
  const live = pollers.filter((poller) => poller.lastAccessMs !== undefined && reference - poller.lastAccessMs <= LIVE_POLL_MS);
  return [...new Set(live.map((poller) => poller.identity))].sort();
}

/** Undefined when `identity` is not in the list: a process the others do not count takes nothing. */
export function positionOf(identities: readonly string[], identity: string): FleetPosition | undefined {
  const rank = identities.indexOf(identity);
  return rank < 0 ? undefined : { size: identities.length, rank };
}

/** `limit` spread over the fleet so that the shares add up to exactly `limit`; the first ranks get the remainder. */
export function createSlotShare(limit: number, position: FleetPosition | undefined): number {
  if (!position) return 0;
  return Math.floor(limit / position.size) + (position.rank < limit % position.size ? 1 : 0);
}

/**
 * Whole requests per second that add up to the limit's whole part, like the create slots: each
 * process lets at most its share through in any second (src/openstack/rateLimiter.ts), so a
 * fractional share would be rounded down there and the fleet would leave up to one request a
 * second per process unused (4 over 3 processes: 3 a second instead of 4). With fewer whole
 * requests than processes, each takes `R / N`, under one a second.
 */
export function rateShare(perSecond: number, position: FleetPosition | undefined): number {
  if (!position) return 0;
  const whole = Math.floor(perSecond);
  if (whole < position.size) return perSecond / position.size;
  return createSlotShare(whole, position);
}

export function shareAt(limits: CloudLimits, position: FleetPosition | undefined): CloudShareLimits {
  return { requestsPerSecond: rateShare(limits.requestsPerSecond, position), createSlots: createSlotShare(limits.maxConcurrentCreates, position) };
}

/**
 * The positions a share must respect: a share goes down as soon as one reading asks for less,
 * and up only once every reading for `settleMs` allows it. `settleMs` is the longest any other
 * process goes between two readings, so by then each has read the list that counts this one
 * and cut its own share: a new process (share 0 until then) never adds to the fleet's use
 * before the others have made room, and no process grows into room that a process still
 * holding it has not given up.
 */
export class SettlingPosition {
  /** Readings by the time their answer came (never earlier than the server read the list), oldest first. */
  private readonly readings: { at: number; position: FleetPosition | undefined }[] = [];

  constructor(private readonly settleMs: number) {}

  record(at: number, position: FleetPosition | undefined): void {
    this.readings.push({ at, position });
    const anchor = this.anchorIndex(at);
    if (anchor > 0) this.readings.splice(0, anchor);
  }

  /** The share of `limits` in force at `now`: nothing until a reading is `settleMs` old. */
  shareOf(limits: CloudLimits, now: number): CloudShareLimits {
    const anchor = this.anchorIndex(now);
    if (anchor < 0) return { requestsPerSecond: 0, createSlots: 0 };
    const shares = this.readings.slice(anchor).map(({ position }) => shareAt(limits, position));
    return {
      requestsPerSecond: Math.min(...shares.map((share) => share.requestsPerSecond)),
      createSlots: Math.min(...shares.map((share) => share.createSlots)),
    };
  }

  /**
   * Whether the newest reading is in force alone: every reading since the anchor agrees with it.
   * Until then a share may still be on its way up, and is worth reading again soon.
   */
  settled(now: number): boolean {
    const anchor = this.anchorIndex(now);
    const newest = this.readings.at(-1)?.position;
    return anchor >= 0 && this.readings.slice(anchor).every(({ position }) => position?.size === newest?.size && position?.rank === newest?.rank);
  }

  /** The newest reading at least `settleMs` before `now`: it and every later one are in force. */
  private anchorIndex(now: number): number {
    for (let i = this.readings.length - 1; i >= 0; i -= 1) if (this.readings[i]!.at <= now - this.settleMs) return i;
    return -1;
  }
}
