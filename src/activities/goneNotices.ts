/**
 * A watch that has not listed for this long no longer answers for gone servers: the longest
 * quiet of a healthy watch is its idle tick (3 s) plus a slow list, and a failing one backs off
 * to 10 s between tries.
 */
export const FOLLOW_STALE_MS = 15_000;
/** How often a waiting delete checks that the watch still lists. */
const RECHECK_MS = 1000;
/** Ids kept after their server was seen gone, for a delete that starts waiting after the list that saw it. */
const REMEMBERED_GONE = 20_000;

/**
 * Which servers of one cloud the fleet's status watcher saw gone, while that watcher runs in this
 * process. Its lists (`changes-since`) show a deleted server as DELETED, so a delete sent from
 * this process learns the end of its server from them instead of reading the server itself: one
 * list then answers every delete of the process, and the lists happen anyway. A delete in a
 * process where the watcher does not run, or whose watch has stopped listing, is told nothing and
 * reads its server (src/activities/goneWait.ts).
 */
export class GoneNotices {
  private watches = 0;
  private lastListAt = 0;
  private readonly gone = new Set<string>();
  private readonly wakers = new Set<() => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A watch of the cloud started in this process; call what it returns when the watch ends. */
  watchStarted(): () => void {
    this.watches += 1;
    this.lastListAt = this.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.watches -= 1;
      this.wakeAll();
    };
  }

  /** A list of the watch went through; `goneIds` are the servers it showed DELETED. */
  listed(goneIds: Iterable<string>): void {
    this.lastListAt = this.now();
    for (const id of goneIds) {
      this.gone.delete(id);
      this.gone.add(id);
    }
    while (this.gone.size > REMEMBERED_GONE) this.gone.delete(this.gone.values().next().value!);
    this.wakeAll();
  }

  /** A watch runs here and has listed lately: its lists can say when a server is gone. */
  get following(): boolean {
    return this.watches > 0 && this.now() - this.lastListAt <= FOLLOW_STALE_MS;
  }

  /**
   * Waits until the watch's lists show the server gone (true), or returns false as soon as no
   * watch here follows the cloud or `until` (local time) has come: the caller then reads the
   * server itself.
   */
  async waitGone(serverId: string, { signal, until }: { signal: AbortSignal; until: number }): Promise<boolean> {
    while (!this.gone.has(serverId)) {
      const leftMs = until - this.now();
      if (!this.following || leftMs <= 0) return false;
      await this.nextChange(Math.min(RECHECK_MS, leftMs), signal);
    }
    return true;
  }

  private wakeAll(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const wake of wakers) wake();
  }

  /** Resolves at the next list or end of a watch, or after `ms`; rejects when `signal` aborts. */
  private nextChange(ms: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const settle = (error?: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        this.wakers.delete(wake);
        if (error === undefined) resolve();
        else reject(error);
      };
      const wake = () => settle();
      const aborted = () => settle(signal.reason ?? new Error('aborted'));
      const timer = setTimeout(wake, ms);
      signal.addEventListener('abort', aborted, { once: true });
      this.wakers.add(wake);
    });
  }
}
