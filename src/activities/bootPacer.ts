import type { MaxBooting } from '../config/limits.js';
import { Semaphore } from '../openstack/semaphore.js';

/** Where an adaptive cap starts: a few boots teach it the cloud's lone boot time before it lets more in. */
export const ADAPTIVE_START = 4;
/** The most an adaptive cap grows to. */
export const ADAPTIVE_CEILING = 1000;
/** Boots remembered for the lone-boot time (their minimum). */
const BASELINE_WINDOW = 32;
/**
 * Of a boot's time, what the status list's tick may add to it: a boot is told at the first list
 * after its end, and lists come every half second to a second while creates wait.
 */
const NOTICE_SLACK_MS = 500;
/**
 * The cap follows the servers that wait inside the cloud behind other boots, estimated from a
 * round's median boot as cap × (its time − the quickest) ÷ its time (TCP Vegas' estimate, on boots
 * instead of round trips): it grows while fewer than QUEUED_LOW wait, shrinks while more than QUEUED_HIGH do.
 */
const QUEUED_LOW = 2;
const QUEUED_HIGH = 4;
/** A round slower than twice the quickest boot plus this was slowed by something else too: cut at once. */
const SEVERE_SLACK_MS = 1500;
/** What is left of the cap after a severely slowed round. */
const CUT_FACTOR = 0.7;
/** Ends remembered for servers that held no slot yet (or any more). */
const REMEMBERED_ENDS = 10_000;
/** A server not seen to finish booting in this long stops counting against the cap (its lifecycle's boot_timeout judges it). */
export const MAX_HOLD_MS = 15 * 60_000;

/**
 * The cap on servers of one cloud between their POST and the end of their boot (ACTIVE, ERROR or
 * gone), in this worker process. A fixed cap is the operator's number. The adaptive cap steers by
 * boot times, as TCP Vegas does by round trips: the quickest recent boot is what a boot takes with
 * no other in its way, and a round's median boot (a round: as many boots as the cap) says by its
 * excess how many servers waited inside the cloud (see QUEUED_LOW). It starts at ADAPTIVE_START
 * and doubles a round while its boots take no longer than the quickest (a cloud with room to
 * spare), then grows by one a round while few wait and shrinks by one while many do; a round
 * slowed far beyond that (twice the quickest and more: another tenant's burst) cuts it to 70 %. On
 * a cloud whose boots slow each other, its servers then boot a few at a time, in the order they
 * were asked for, each about as quick as a lone boot, instead of all finishing late together.
 */
export class BootPacer {
  readonly slots: Semaphore;
  private cap: number;
  private readonly recent: number[] = [];
  /** Boot times of the round in progress (adaptive). */
  private round: number[] = [];
  /** Doubling a round, until the first round whose boots waited inside the cloud. */
  private startingUp = true;
  private readonly now: () => number;
  private readonly onChange: (slots: number, booting: number) => void;
  /** Servers posted and not yet seen to end their boot, with when their POST was sent and their slot's release. */
  private readonly holding = new Map<string, { sentAt: number; release: () => void; timer: NodeJS.Timeout }>();
  /** Servers whose end was seen while they held no slot, most recent last. */
  private readonly endedUnheld = new Set<string>();

  constructor(
    readonly setting: MaxBooting,
    { now = Date.now, onChange = () => {} }: { now?: () => number; onChange?: (slots: number, booting: number) => void } = {},
  ) {
    this.now = now;
    this.onChange = onChange;
    this.cap = setting === 'adaptive' ? ADAPTIVE_START : setting;
    this.slots = new Semaphore(this.cap);
    this.changed();
  }

  /** Servers allowed to boot at once now. */
  get size(): number {
    return this.slots.size;
  }

  /** This process's share of a fixed cap, in a fleet of worker processes (0 until the fleet has counted it). */
  setShare(slots: number): void {
    if (this.setting === 'adaptive') return;
    this.cap = slots;
    this.slots.resize(slots);
    this.changed();
  }

  /** Creates waiting for a slot. */
  get queued(): number {
    return this.slots.waiting;
  }

  /** Servers posted whose boot has not been seen to end. */
  get booting(): number {
    return this.holding.size;
  }

  /** The slot taken for a create now belongs to its server until its boot ends (see `ended`), or MAX_HOLD_MS at most. */
  hold(serverId: string, sentAt: number, release: () => void): void {
    this.drop(serverId);
    // A list may show the boot over before the create that made it has handed over its slot.
    if (this.endedUnheld.delete(serverId)) {
      release();
      return;
    }
    const timer = setTimeout(() => this.drop(serverId), MAX_HOLD_MS);
    timer.unref();
    this.holding.set(serverId, { sentAt, release, timer });
    this.changed();
  }

  /** Whether the server holds a slot of this pacer. */
  holds(serverId: string): boolean {
    return this.holding.has(serverId);
  }

  /** The server's boot ended (`active`: it went ACTIVE, so its boot time teaches the cap; otherwise ERROR, gone or given up on). */
  ended(serverId: string, active: boolean): void {
    const held = this.holding.get(serverId);
    if (!held) {
      this.endedUnheld.add(serverId);
      if (this.endedUnheld.size > REMEMBERED_ENDS) this.endedUnheld.delete(this.endedUnheld.values().next().value!);
      return;
    }
    this.drop(serverId);
    if (!active) return;
    const bootMs = this.now() - held.sentAt;
    this.recent.push(bootMs);
    if (this.recent.length > BASELINE_WINDOW) this.recent.shift();
    if (this.setting === 'adaptive') this.learn(bootMs);
  }

  private drop(serverId: string): void {
    const held = this.holding.get(serverId);
    if (!held) return;
    clearTimeout(held.timer);
    this.holding.delete(serverId);
    held.release();
    this.changed();
  }

  /**
   * How long until the soonest a boot holding a slot may end, by the quickest recent boot (ms,
   * negative once that is past); undefined while none holds a slot or no boot has ended yet to
   * say how quick they are.
   */
  msUntilSoonestEnd(): number | undefined {
    if (this.holding.size === 0 || this.recent.length === 0) return undefined;
    let firstSent = Number.POSITIVE_INFINITY;
    for (const { sentAt } of this.holding.values()) firstSent = Math.min(firstSent, sentAt);
    return firstSent + Math.min(...this.recent) - this.now();
  }

  /** Judged once a round (as many boots as the cap), on the round's median: one boot is too noisy to steer by. */
  private learn(bootMs: number): void {
    this.round.push(bootMs);
    if (this.round.length < Math.floor(this.cap)) return;
    const typical = median(this.round);
    const boots = this.round.length;
    this.round = [];
    const quickest = Math.min(...this.recent);
    const queued = (this.cap * Math.max(0, typical - quickest - NOTICE_SLACK_MS)) / typical;
    if (typical > 2 * quickest + SEVERE_SLACK_MS) {
      this.startingUp = false;
      this.cap = Math.max(1, this.cap * CUT_FACTOR);
    } else if (this.startingUp && queued < 1) {
      this.cap += boots;
    } else {
      this.startingUp = false;
      if (queued < QUEUED_LOW) this.cap += 1;
      else if (queued > QUEUED_HIGH) this.cap = Math.max(1, this.cap - 1);
    }
    this.cap = Math.min(ADAPTIVE_CEILING, this.cap);
    this.slots.resize(Math.max(1, Math.floor(this.cap)));
    this.changed();
  }

  private changed(): void {
    this.onChange(this.slots.size, this.holding.size);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
