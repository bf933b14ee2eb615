import { z } from 'zod';

// Nova's build congestion. A real Nova does not boot every server it accepts at once: the
// scheduler, the conductor and nova-compute each work through their share of every build, so a
// burst of creates queues, and the servers of a burst go ACTIVE one after another instead of
// together. The simulator models that as a compute host with `workers` build slots, taken first
// come, first served: a server waits (still `scheduling`) until a slot is free, then holds it for
// `buildMs` of its spawn. A lone server therefore still boots in the boot delay; the n-th of a
// burst of servers created together goes ACTIVE about `floor((n - 1) / workers) × buildMs` later.

export const novaCongestionSchema = z.strictObject({
  /** Builds worked on at once. */
  workers: z.int().min(1).max(10_000),
  /** How long one build holds its slot; part of the boot delay, so it may not exceed the spawn (boot delay minus scheduling). */
  buildMs: z.int().min(0).max(600_000),
});

export type NovaCongestion = z.infer<typeof novaCongestionSchema>;

/** A congestion model together with the boot it was fitted with: a whole cloud's boot behaviour. */
export interface NovaCongestionPreset {
  bootDelayMs: number;
  scheduleDelayMs: number;
  congestion: NovaCongestion;
  description: string;
}

// real-here: the Zed of ../shared/tools (fake virt driver, one process per Nova service, 2 cores).
// A lone server: POST answered in 0.13-0.42 s (nova-api log, 20 creates), then ACTIVE 0.66-1.13 s
// later (nova-compute log, 11 lone creates), so about 1 s from request to ACTIVE. 30 POSTs at
// once, 18 bursts of `npm run bench:openstack` on 2026-12-04: Nova launched the servers one after
// another, first come first served, a least-squares slope of 303 to 511 ms a server (median 383),
// the first 0 to 1 s after the first create when Nova was quiet. One build slot of 390 ms puts
// the 15th of 30 at 1000 + 14 x 390 = 6.5 s and the last at 12.3 s; the quiet bursts' Nova POST
// -> ACTIVE was p50 5 to 8 s, max 8 to 12 s. docs/benchmark.md, "Nova congestion".
export const novaCongestionPresets: Readonly<Record<string, NovaCongestionPreset>> = {
  'real-here': {
    bootDelayMs: 1000,
    scheduleDelayMs: 100,
    congestion: { workers: 1, buildMs: 390 },
    description: 'the Zed of ../shared/tools (fake driver, 2 cores)',
  },
};

/**
 * `off`, a preset's name, or `<workers>x<buildMs>` (e.g. `1x400`). A preset brings its own boot
 * and scheduling delays; `<workers>x<buildMs>` keeps the ones given elsewhere.
 */
export function parseNovaCongestion(text: string): { congestion: NovaCongestion | null; preset?: NovaCongestionPreset } {
  if (text === 'off') return { congestion: null };
  const preset = novaCongestionPresets[text];
  if (preset) return { congestion: preset.congestion, preset };
  const match = /^(\d+)x(\d+)$/.exec(text);
  const parsed = match ? novaCongestionSchema.safeParse({ workers: Number(match[1]), buildMs: Number(match[2]) }) : undefined;
  if (!parsed?.success) {
    throw new RangeError(`must be off, ${Object.keys(novaCongestionPresets).join(', ')} or <workers>x<build ms> such as 1x400, got "${text}"`);
  }
  return { congestion: parsed.data };
}

/** One build waiting for a slot: `start` runs when it gets one, unless `wanted` says it no longer needs it (deleted meanwhile). */
interface Waiting {
  wanted: () => boolean;
  start: () => void;
}

/**
 * The compute host's build slots. With no congestion every build starts at once. Changing the
 * model applies to the builds still waiting: more slots (or none at all) start them at once.
 */
export class BuildSlots {
  private readonly waiting: Waiting[] = [];
  private busy = 0;

  constructor(
    private model: NovaCongestion | null,
    /** Runs `fn` after `ms`, on the simulator's own (cancellable) timers. */
    private readonly after: (ms: number, fn: () => void) => void,
  ) {}

  get congestion(): NovaCongestion | null {
    return this.model;
  }

  set congestion(model: NovaCongestion | null) {
    this.model = model;
    this.pump();
  }

  /** Builds waiting for a slot right now (ones deleted meanwhile included until their turn). */
  get queued(): number {
    return this.waiting.length;
  }

  enter(wanted: () => boolean, start: () => void): void {
    this.waiting.push({ wanted, start });
    this.pump();
  }

  private pump(): void {
    while (this.waiting.length > 0 && (this.model === null || this.busy < this.model.workers)) {
      const next = this.waiting.shift() as Waiting;
      if (!next.wanted()) continue;
      if (this.model !== null && this.model.buildMs > 0) {
        this.busy += 1;
        this.after(this.model.buildMs, () => {
          this.busy -= 1;
          this.pump();
        });
      }
      next.start();
    }
  }
}
