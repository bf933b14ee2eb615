/**
 * At most `size` holders at a time; the others wait in order. Every wait is bounded: by the
 * caller's signal and by `maxWaitMs`, after which `acquire` rejects with what `onTimeout` builds.
 * The size may change while the process runs (its share of a fleet-wide limit, possibly 0): a
 * smaller size is reached as holders release, never by taking a slot back.
 */
export class Semaphore {
  private held = 0;
  private limit: number;
  private readonly queue: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a semaphore needs a size of at least 1, got ${String(size)}`);
    this.limit = size;
  }

  get size(): number {
    return this.limit;
  }

  get inUse(): number {
    return this.held;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  resize(size: number): void {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`a semaphore's size must be a whole number of 0 or more, got ${String(size)}`);
    this.limit = size;
    this.admit();
  }

  async acquire(maxWaitMs: number, onTimeout: () => Error, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.held < this.limit && this.queue.length === 0) {
      this.held += 1;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const turn = (): void => {
        cleanup();
        this.held += 1;
        resolve();
      };
      const leave = (error: unknown): void => {
        cleanup();
        const index = this.queue.indexOf(turn);
        if (index >= 0) this.queue.splice(index, 1);
        reject(error);
      };
      const timer = setTimeout(() => leave(onTimeout()), maxWaitMs);
      const onAbort = (): void => leave(signal!.reason);
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(turn);
    });
    return this.releaser();
  }

  /** Hands free slots to the waiters, first come first served. */
  private admit(): void {
    while (this.held < this.limit && this.queue.length > 0) this.queue.shift()!();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= 1;
      this.admit();
    };
  }
}
