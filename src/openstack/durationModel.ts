/**
 * What recent boots (or deletes) of one cloud took, so that a poller can look often when one is
 * about to finish and rarely otherwise. Keeps the last `size` samples.
 */
export class DurationModel {
  private readonly samples: number[] = [];

  constructor(
    private readonly size = 50,
    /** Fewer samples than this say nothing yet: every wait counts as about to finish. */
    private readonly minSamples = 3,
  ) {}

  record(durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs < 0) return;
    this.samples.push(durationMs);
    if (this.samples.length > this.size) this.samples.shift();
  }

  /**
   * From how long after its start until how long after it a wait is expected to end, with slack
   * on both sides (Nova's times are whole seconds); undefined while too little is known.
   */
  window(): { fromMs: number; toMs: number } | undefined {
    if (this.samples.length < this.minSamples) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { fromMs: Math.max(0, at(0.1) * 0.8 - 1500), toMs: at(0.9) * 1.5 + 3000 };
  }
}
