import { DurationModel } from './durationModel.js';
import { OpenStackError } from './errors.js';
import { Nap } from './nap.js';
import type { CallOptions } from './keystone.js';
import type { Server } from './novaTypes.js';

/** What a waiter waits for: a boot to end (ACTIVE or ERROR), or a deleted server to be gone. */
export type Wanted = 'active' | 'gone';

/** `settled`: ACTIVE or ERROR, for `active` waiters; `gone`: DELETED, or no longer listed. */
export type WatchOutcome = { kind: 'settled'; server: Server } | { kind: 'gone' };

/** The part of Nova the watcher reads. */
export interface ServerSource {
  listServerChanges(changesSince: Date | undefined, options?: CallOptions): Promise<{ servers: Server[]; listedAt: Date | undefined }>;
  getServer(id: string, options?: CallOptions): Promise<Server | undefined>;
}

export interface WatcherOptions {
  /** The quick tick, while some wait is expected to end soon; default 200 ms. */
  fastTickMs?: number;
  /** The slow tick, while none is; default 3 s. */
  slowTickMs?: number;
  /**
   * Lists per waiting server per minute that ticking may cost; default 0.5. The tick is at least
   * 60 s ÷ (budget × waiting servers), but the budget never stretches it beyond `budgetTickMs`.
   */
  callBudget?: number;
  /**
   * The longest the budget stretches the quick tick to; default five quick ticks (1 s). It bounds
   * the detection lag whatever the number of waiters, and one list this often costs the cloud no
   * more than polling one server by itself every second.
   */
  budgetTickMs?: number;
  /** A full list (no `changes-since`) at least this often while anyone waits; default 30 s. */
  resyncMs?: number;
  /**
   * How far before the cloud's clock reading of the last list the next `changes-since` starts:
   * covers a change committed while the list ran and compute hosts whose clocks run behind the
   * API's. Default 5 s.
   */
  marginMs?: number;
  /** Backoff cap while lists fail; default 15 s. */
  maxBackoffMs?: number;
  /** Lists failing for this long fail every waiter, so that the activities' own retry bounds apply; default 60 s. */
  giveUpAfterMs?: number;
  /** New waiters of unknown history looked at one by one (GET) up to this many per tick, else by a full list; default 5. */
  firstLookGets?: number;
  /** A deleted server not yet seen gone after this long is looked for in a full list; default 10 s. */
  goneRecheckMs?: number;
  log?: (message: string) => void;
  /** Told after every list (whether it succeeded) with the number of servers waited on: the worker's health metrics. */
  onList?: (ok: boolean, waiting: number) => void;
  now?: () => number;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /**
   * Local time before the request that started what is awaited (the create or the delete): any
   * later change of the server is then known to show up in `changes-since` lists from that time.
   * Without it the server gets a first look of its own.
   */
  since?: number;
}

interface Waiter {
  serverId: string;
  wanted: Wanted;
  anchor: number | undefined;
  /** Local time the awaited thing began (the anchor, or the registration), for the tick schedule. */
  startedAt: number;
  registeredAt: number;
  /** A list has been taken since registration whose `changes-since` covers the server's history. */
  covered: boolean;
  resolve(outcome: WatchOutcome): void;
  reject(error: unknown): void;
}

/** A list taken: when it started (local clock) and the `changes-since` that continues after it (cloud clock). */
interface ListMark {
  startedAt: number;
  cursor: number;
}

const DATE_HEADER_RESOLUTION_MS = 1000;
const MARKS_KEPT = 4096;
const REMEMBERED_SENDS = 20_000;

/**
 * One poller for every server of one cloud and project that a lifecycle in this process waits
 * on: each tick is one `GET /servers/detail?changes-since=T` (all pages), whatever the number of
 * waiters, and wakes the waiters whose servers it shows settled. T follows the cloud's own clock
 * (the list's `Date` header, less a margin), never this process's. A full list now and then (and
 * when the watcher starts) catches what `changes-since` cannot show: a server purged from the
 * database, a delete that never reached a compute cell. The tick is quick only while a wait is
 * expected to end soon, learnt from the boots and deletes seen so far.
 */
export class ServerWatcher {
  /** Calls made, for tests and metrics. */
  readonly calls = { lists: 0, fullLists: 0, gets: 0 };
  readonly boots = new DurationModel();
  readonly deletes = new DurationModel();
  private readonly options: Required<Omit<WatcherOptions, 'log' | 'onList' | 'now'>>;
  private readonly onList: (ok: boolean, waiting: number) => void;
  private readonly log: (message: string) => void;
  private readonly now: () => number;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly statuses = new Map<string, string>();
  private readonly sent = new Map<string, number>();
  private readonly marks: ListMark[] = [];
  private lastFullAt = Number.NEGATIVE_INFINITY;
  private lastTickAt = Number.NEGATIVE_INFINITY;
  private running = false;
  private closed = false;
  private failingSince: number | undefined;
  private backoffMs = 0;
  private warnedNoDate = false;
  private readonly nap: Nap;
  private readonly stop = new AbortController();

  constructor(
    private readonly source: ServerSource,
    options: WatcherOptions = {},
  ) {
    const fastTickMs = options.fastTickMs ?? 200;
    this.options = {
      fastTickMs,
      slowTickMs: options.slowTickMs ?? 3000,
      callBudget: options.callBudget ?? 0.5,
      budgetTickMs: options.budgetTickMs ?? fastTickMs * 5,
      resyncMs: options.resyncMs ?? 30_000,
      marginMs: options.marginMs ?? 5000,
      maxBackoffMs: options.maxBackoffMs ?? 15_000,
      giveUpAfterMs: options.giveUpAfterMs ?? 60_000,
      firstLookGets: options.firstLookGets ?? 5,
      goneRecheckMs: options.goneRecheckMs ?? 10_000,
    };
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number, got ${String(value)}`);
    }
    this.log = options.log ?? (() => {});
    this.onList = options.onList ?? (() => {});
    this.now = options.now ?? Date.now;
    this.nap = new Nap(this.now);
  }

  /** Number of waits in progress. */
  get waiting(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }

  /** The last status seen of a watched server. */
  statusOf(serverId: string): string | undefined {
    return this.statuses.get(serverId);
  }

  /** Remembers when the create (or delete) of a server was sent, for a later `watch` without `since`. */
  remember(serverId: string, sentAt: number): void {
    this.sent.delete(serverId);
    this.sent.set(serverId, sentAt);
    if (this.sent.size > REMEMBERED_SENDS) this.sent.delete(this.sent.keys().next().value!);
  }

  /** Resolves once the server is settled (ACTIVE or ERROR) or gone for `active`, once it is gone for `gone`. */
  watch(serverId: string, wanted: Wanted, { signal, since }: WatchOptions = {}): Promise<WatchOutcome> {
    if (this.closed) return Promise.reject(new Error('the server watcher is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const anchor = since ?? this.sent.get(serverId);
    const registeredAt = this.now();
    return new Promise<WatchOutcome>((resolve, reject) => {
      const onAbort = (): void => {
        this.remove(waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        serverId,
        wanted,
        anchor,
        startedAt: anchor ?? registeredAt,
        registeredAt,
        covered: false,
        resolve: (outcome) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let set = this.waiters.get(serverId);
      if (!set) this.waiters.set(serverId, (set = new Set()));
      set.add(waiter);
      // A server of unknown history gets its first look soon; one whose history the next list covers waits its turn.
      if (this.coverFor(waiter) === undefined) this.hurry();
      if (!this.running) {
        this.running = true;
        // On the next turn of the event loop, so that waits registered together share the first list.
        setImmediate(() => void this.loop());
      }
    });
  }

  /** Stops polling and fails every wait in progress. */
  close(): void {
    this.closed = true;
    this.stop.abort(new Error('the server watcher is closed'));
    this.rejectAll(new Error('the server watcher is closed'));
    this.nap.wake();
  }

  private async loop(): Promise<void> {
    try {
      while (this.waiters.size > 0 && !this.closed) {
        let delayMs: number;
        try {
          await this.tick();
          this.failingSince = undefined;
          this.backoffMs = 0;
          delayMs = this.nextDelay();
          this.onList(true, this.waiting);
        } catch (error) {
          delayMs = this.failed(error);
          if (!this.closed) this.onList(false, this.waiting);
        }
        if (this.waiters.size === 0 || this.closed) break;
        await this.nap.until(this.now() + delayMs);
      }
    } finally {
      this.running = false;
    }
  }

  private async tick(): Promise<void> {
    const { firstLookGets, goneRecheckMs, resyncMs } = this.options;
    const now = this.now();
    this.lastTickAt = now;
    const snapshot = this.allWaiters();
    const firstLooks = snapshot.filter((waiter) => !waiter.covered && this.coverFor(waiter) === undefined);
    const goneOverdue = now - this.lastFullAt >= goneRecheckMs && snapshot.some((w) => w.wanted === 'gone' && now - w.registeredAt >= goneRecheckMs);
    const full = this.marks.length === 0 || now - this.lastFullAt >= resyncMs || firstLooks.length > firstLookGets || goneOverdue;
    const options = { signal: this.stop.signal };

    if (!full) {
      for (const waiter of firstLooks) await this.lookAt(waiter.serverId);
    }
    const since = full ? undefined : this.sinceFor(snapshot);
    const startedAt = this.now();
    const { servers, listedAt } = await this.source.listServerChanges(since === undefined ? undefined : new Date(since), options);
    this.calls.lists += 1;
    if (full) this.calls.fullLists += 1;
    const listed = new Set<string>();
    for (const server of servers) {
      listed.add(server.id);
      if (this.waiters.has(server.id)) this.settle(server.id, server);
    }
    if (full) {
      this.lastFullAt = startedAt;
      // Not in a full list: a deleted server is gone; a booting one is asked about by id before it is given up.
      for (const waiter of snapshot) {
        if (listed.has(waiter.serverId) || !this.isWaiting(waiter)) continue;
        if (waiter.wanted === 'gone') this.settle(waiter.serverId, undefined);
        else await this.lookAt(waiter.serverId);
      }
    }
    for (const waiter of snapshot) waiter.covered = true;
    this.mark(startedAt, listedAt);
  }

  private async lookAt(serverId: string): Promise<void> {
    const server = await this.source.getServer(serverId, { signal: this.stop.signal });
    this.calls.gets += 1;
    this.settle(serverId, server);
  }

  /** Applies what the cloud says of a server to its waiters; undefined: it does not exist. */
  private settle(serverId: string, server: Server | undefined): void {
    const set = this.waiters.get(serverId);
    if (!set) return;
    const gone = server === undefined || server.status === 'DELETED';
    if (server && !gone) this.statuses.set(serverId, server.status);
    for (const waiter of [...set]) {
      if (gone) {
        if (waiter.wanted === 'gone') this.deletes.record(this.now() - waiter.startedAt);
        this.finish(waiter, { kind: 'gone' });
      } else if (waiter.wanted === 'active' && (server.status === 'ACTIVE' || server.status === 'ERROR')) {
        // Only boots watched from their create teach the schedule: a server found long ACTIVE may have changed since.
        if (server.status === 'ACTIVE' && waiter.anchor !== undefined) this.boots.record(Date.parse(server.updated) - Date.parse(server.created));
        this.finish(waiter, { kind: 'settled', server });
      }
    }
  }

  private finish(waiter: Waiter, outcome: WatchOutcome): void {
    this.remove(waiter);
    waiter.resolve(outcome);
  }

  private remove(waiter: Waiter): void {
    const set = this.waiters.get(waiter.serverId);
    if (!set?.delete(waiter)) return;
    if (set.size === 0) {
      this.waiters.delete(waiter.serverId);
      this.statuses.delete(waiter.serverId);
      this.sent.delete(waiter.serverId);
    }
    if (this.waiters.size === 0) this.nap.wake();
  }

  private isWaiting(waiter: Waiter): boolean {
    return this.waiters.get(waiter.serverId)?.has(waiter) ?? false;
  }

  private allWaiters(): Waiter[] {
    return [...this.waiters.values()].flatMap((set) => [...set]);
  }

  /**
   * The `changes-since` (cloud clock) after which every change of this waiter's server shows
   * up: that of the last list begun before the create or delete was sent. Undefined when no
   * such list is remembered.
   */
  private coverFor(waiter: Waiter): number | undefined {
    if (waiter.anchor === undefined) return undefined;
    let found: number | undefined;
    for (const mark of this.marks) {
      if (mark.startedAt > waiter.anchor) break;
      found = mark.cursor;
    }
    return found;
  }

  private sinceFor(snapshot: Waiter[]): number {
    let since = this.marks.at(-1)!.cursor;
    for (const waiter of snapshot) {
      if (waiter.covered) continue;
      const cover = this.coverFor(waiter);
      if (cover !== undefined) since = Math.min(since, cover);
    }
    return since;
  }

  private mark(startedAt: number, listedAt: Date | undefined): void {
    if (!listedAt && !this.warnedNoDate) {
      this.warnedNoDate = true;
      this.log("the compute API's list answer has no Date header: changes-since follows this worker's clock, which may differ from the cloud's");
    }
    // The Date header is cut to whole seconds: the list may have been taken up to a second after it says.
    const cloudTime = listedAt ? listedAt.getTime() : startedAt;
    this.marks.push({ startedAt, cursor: cloudTime - DATE_HEADER_RESOLUTION_MS - this.options.marginMs });
    if (this.marks.length > MARKS_KEPT) this.marks.shift();
  }

  /**
   * Quick while some wait is expected to end soon (or its history is still unknown), slow
   * otherwise; never quicker than the call budget allows for the servers waiting, except for a
   * first look at a server of unknown history (rare: a worker restart, a create made by another
   * process), which is not put off, as `hurry` does not.
   */
  private nextDelay(): number {
    if (this.allWaiters().some((waiter) => !waiter.covered && this.coverFor(waiter) === undefined)) return this.options.fastTickMs;
    return Math.max(this.scheduledDelay(), this.budgetedTickMs());
  }

  private scheduledDelay(): number {
    const { fastTickMs, slowTickMs } = this.options;
    const now = this.now();
    let delay = slowTickMs;
    for (const waiter of this.allWaiters()) {
      if (!waiter.covered) return fastTickMs;
      const window = (waiter.wanted === 'active' ? this.boots : this.deletes).window();
      if (!window) return fastTickMs;
      const elapsed = now - waiter.startedAt;
      if (elapsed >= window.fromMs && elapsed <= window.toMs) return fastTickMs;
      if (elapsed < window.fromMs) delay = Math.min(delay, window.fromMs - elapsed);
    }
    return Math.max(fastTickMs, delay);
  }

  /**
   * The shortest tick the call budget allows: one list serves every waiter, so the cost per
   * waiting server falls as more wait, and the quick tick is only reached when enough do (600
   * with the defaults). A few waiters get the budget's longest tick, which keeps a lone boot's
   * detection lag at half a second on average.
   */
  private budgetedTickMs(): number {
    const { callBudget, budgetTickMs } = this.options;
    return Math.min(budgetTickMs, 60_000 / (callBudget * this.waiting));
  }

  private failed(error: unknown): number {
    if (this.closed) return 0;
    const retryable = error instanceof OpenStackError && error.retryable;
    if (!retryable) {
      this.log(`server status list failed, and a retry cannot help: ${describe(error)}`);
      this.rejectAll(error);
      return 0;
    }
    const now = this.now();
    this.failingSince ??= now;
    if (now - this.failingSince >= this.options.giveUpAfterMs) {
      this.log(`server status lists have failed for ${Math.round((now - this.failingSince) / 1000)} s; failing the waits: ${describe(error)}`);
      this.failingSince = undefined;
      this.rejectAll(error);
      return 0;
    }
    this.backoffMs = Math.min(this.options.maxBackoffMs, Math.max(this.options.fastTickMs, this.backoffMs * 2));
    const delayMs = Math.min(this.options.maxBackoffMs, Math.max(this.backoffMs, error.retryAfterMs ?? 0));
    this.log(`server status list failed, trying again in ${delayMs} ms: ${describe(error)}`);
    return delayMs;
  }

  private rejectAll(error: unknown): void {
    for (const waiter of this.allWaiters()) {
      this.remove(waiter);
      waiter.reject(error);
    }
  }

  /** Brings the next tick forward, but never closer than a quick tick to the last one. */
  private hurry(): void {
    // While lists fail, the backoff stands: new waiters must not turn it into a quick tick.
    if (this.failingSince !== undefined) return;
    this.nap.bringForward(Math.max(this.now(), this.lastTickAt + this.options.fastTickMs));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
