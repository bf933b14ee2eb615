import type { MaxBooting } from '../config/limits.js';
import { Semaphore } from '../openstack/semaphore.js';

/** Where an adaptive cap starts: a few boots teach it the cloud's lone boot time before it lets more in. */
export const ADAPTIVE_START = 4;
/** The most an adaptive cap grows to. */
export const ADAPTIVE_CEILING = 1000;
/** Boots remembered for the lone-boot time (their minimum). */
const BASELINE_WINDOW = 32;
/**
 * A boot counts as slowed by the others when it took more than twice the quickest recent boot
 * plus this: the status list that tells it ticks about once a second, so two boots of the same
 * length can be told a second apart.
 */
const NOTICE_SLACK_MS = 1500;
/** What is left of the cap after a boot that others slowed. */
const CUT_FACTOR = 0.7;
/** Ends remembered for servers that held no slot yet (or any more). */
const REMEMBERED_ENDS = 10_000;
/** A server not seen to finish booting in this long stops counting against the cap (its lifecycle's boot_timeout judges it). */
export const MAX_HOLD_MS = 15 * 60_000;

/**
 * The cap on servers of one cloud between their POST and the end of their boot (ACTIVE, ERROR or
 * gone), in this worker process. A fixed cap is the operator's number. The adaptive cap is
 * additive-increase, multiplicative-decrease on boot times, as TCP does on round trips: it starts
 * at ADAPTIVE_START; boots that took about as long as the quickest recent one let it grow (by one a
 * boot until the first cut, then by one a round); a boot slowed by the others (more than twice the
 * quickest, plus the list's tick) cuts it to 70 %, once per round (boots sent before the last cut
 * do not cut it again). On a cloud whose boots slow each other, the servers then boot a few at a
 * time, in the order they were asked for, instead of all finishing late together.
 */
export class BootPacer {
  readonly slots: Semaphore;
  private cap: number;
  private readonly recent: number[] = [];
  private lastCutAt = Number.NEGATIVE_INFINITY;
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
    if (active && this.setting === 'adaptive') this.learn(this.now() - held.sentAt, held.sentAt);
  }

  private drop(serverId: string): void {
    const held = this.holding.get(serverId);
    if (!held) return;
    clearTimeout(held.timer);
    this.holding.delete(serverId);
    held.release();
    this.changed();
  }

  private learn(bootMs: number, sentAt: number): void {
    this.recent.push(bootMs);
    if (this.recent.length > BASELINE_WINDOW) this.recent.shift();
    const quickest = Math.min(...this.recent);
    if (bootMs <= 2 * quickest + NOTICE_SLACK_MS) {
      // Until the first slowed boot it doubles each round (one more per boot); after, one more per round.
      this.cap = Math.min(ADAPTIVE_CEILING, this.cap + (this.lastCutAt === Number.NEGATIVE_INFINITY ? 1 : 1 / this.cap));
    } else if (sentAt >= this.lastCutAt) {
      this.cap = Math.max(1, this.cap * CUT_FACTOR);
      this.lastCutAt = this.now();
    }
    this.slots.resize(Math.max(1, Math.floor(this.cap)));
    this.changed();
  }

  private changed(): void {
    this.onChange(this.slots.size, this.holding.size);
  }
}
