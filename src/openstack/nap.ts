/**
 * The sleep between two looks at the cloud, which news can shorten: a boot that starts while the
 * looker idles brings its next look forward, and a looker with nothing left to watch wakes at once.
 * One sleep at a time; `until` replaces nothing, so a looker awaits each before starting the next.
 */
export class Nap {
  private current: { at: number; timer: NodeJS.Timeout; wake: () => void } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Sleeps until `at` (this nap's clock), or until woken or brought forward; rejects when `signal` aborts. */
  until(at: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const end = (): void => {
        clearTimeout(this.current?.timer);
        this.current = undefined;
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        end();
        reject(signal?.reason);
      };
      const wake = (): void => {
        end();
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.current = { at, timer: setTimeout(wake, Math.max(0, at - this.now())), wake };
    });
  }

  /** Ends the sleep at `at` instead, if that is sooner than its end. */
  bringForward(at: number): void {
    const current = this.current;
    if (!current || at >= current.at) return;
    clearTimeout(current.timer);
    current.at = at;
    current.timer = setTimeout(current.wake, Math.max(0, at - this.now()));
  }

  /** Ends the sleep now. */
  wake(): void {
    this.current?.wake();
  }
}
