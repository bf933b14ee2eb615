import type { CallOptions } from './keystone.js';
import type { Server } from './novaTypes.js';

/** The part of Nova the feed reads. */
export interface ChangeSource {
  listServerChanges(changesSince: Date | undefined, options?: CallOptions): Promise<{ servers: Server[]; listedAt: Date | undefined }>;
}

/** A server of the deployment that finished booting, and the lifecycle (workflow id) that owns it. */
export interface BootSettled {
  serverId: string;
  workflowId: string;
  status: 'ACTIVE' | 'ERROR';
  /** When the list that showed it came back (local clock, epoch ms). */
  seenAt: number;
}

/** What one list found, and the `changes-since` that continues after it once its news is delivered. */
export interface FeedList {
  settled: BootSettled[];
  /** Every server the list showed DELETED, of whatever owner: a deleted server may have lost its metadata. */
  gone: string[];
  cursor: number;
}

export interface StatusFeedOptions {
  /** The deployment id the servers carry in their owner metadata: only those are followed. */
  deployment: string;
  /** Metadata keys naming the deployment and the owning workflow. */
  ownerKeys: { deployment: string; workflowId: string };
  /** Where to take up from: the cursor a watcher that stopped had reached (cloud clock, epoch ms). */
  cursor?: number;
  /** The quickest tick, however many servers boot; default 250 ms. */
  quickTickMs?: number;
  /** The tick with few servers booting, and the longest the call budget stretches it to; default 1 s. */
  budgetTickMs?: number;
  /** Lists per booting server per minute that ticking may cost; default 0.5. */
  callBudget?: number;
  /** The tick while none of the deployment's servers is known to boot; default 3 s. */
  idleTickMs?: number;
  /** How far before the cloud's clock reading of a list the next `changes-since` starts; default 5 s. */
  marginMs?: number;
  /** How far back a feed with no cursor starts, to catch boots that ended while no watcher ran; default 10 min. */
  lookBackMs?: number;
  now?: () => number;
}

/** The Date header is cut to whole seconds: the list may have been taken up to a second after it says. */
const DATE_HEADER_RESOLUTION_MS = 1000;
/** Boots tracked longer than this are forgotten (their lifecycle's own look at boot_timeout judges them). */
const TRACK_BOOT_MS = 6 * 3600_000;
const REMEMBERED_TOLD = 50_000;
const SETTLED = new Set(['ACTIVE', 'ERROR']);

/**
 * The cloud's status changes, one `GET /servers/detail?changes-since=T` at a time, for a whole
 * fleet of worker processes: it follows the servers of one deployment and says which finished
 * booting (ACTIVE or ERROR) and which lifecycle owns each, from the owner metadata on the server.
 * It learns which servers are booting from the lists themselves (a create shows up as a change),
 * so no lifecycle has to register with it. T follows the cloud's clock (the list's Date header,
 * less a margin); the cursor moves on only once the caller has delivered a list's news, so a
 * watcher that dies between the two loses nothing: the next one starts from the same cursor.
 */
export class StatusFeed {
  readonly calls = { lists: 0 };
  private readonly options: Required<Omit<StatusFeedOptions, 'cursor' | 'now' | 'ownerKeys' | 'deployment'>>;
  private readonly now: () => number;
  /** Servers of the deployment last seen booting, with when they were first seen. */
  private readonly booting = new Map<string, number>();
  /** The settled status already delivered per server, so an overlapping list does not say it twice. */
  private readonly told = new Map<string, string>();
  private cursorMs: number;

  constructor(
    private readonly source: ChangeSource,
    private readonly settings: StatusFeedOptions,
  ) {
    this.options = {
      quickTickMs: settings.quickTickMs ?? 250,
      budgetTickMs: settings.budgetTickMs ?? 1000,
      callBudget: settings.callBudget ?? 0.5,
      idleTickMs: settings.idleTickMs ?? 3000,
      marginMs: settings.marginMs ?? 5000,
      lookBackMs: settings.lookBackMs ?? 10 * 60_000,
    };
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${String(value)}`);
    }
    this.now = settings.now ?? Date.now;
    this.cursorMs = settings.cursor ?? this.now() - this.options.lookBackMs;
  }

  /** The `changes-since` of the next list (cloud clock, epoch ms). */
  get cursor(): number {
    return this.cursorMs;
  }

  /** Servers of the deployment known to be booting. */
  get bootingCount(): number {
    return this.booting.size;
  }

  /**
   * A create of the deployment was just answered: the server boots, so the feed ticks as for a
   * boot from now on, instead of waiting idle for a list to show it (a boot quicker than the idle
   * tick would otherwise never be seen booting, and its end would be told up to an idle tick late).
   */
  expectBoot(serverId: string): void {
    if (!this.booting.has(serverId) && !this.told.has(serverId)) this.booting.set(serverId, this.now());
  }

  /** Lists what changed since the cursor; `advance` with the result once its news is delivered. */
  async list(options: CallOptions = {}): Promise<FeedList> {
    const startedAt = this.now();
    const { servers, listedAt } = await this.source.listServerChanges(new Date(this.cursorMs), options);
    const seenAt = this.now();
    this.calls.lists += 1;
    const settled: BootSettled[] = [];
    const gone = servers.filter((server) => server.status === 'DELETED').map((server) => server.id);
    for (const server of servers) {
      const workflowId = server.metadata?.[this.settings.ownerKeys.workflowId];
      if (server.metadata?.[this.settings.ownerKeys.deployment] !== this.settings.deployment || !workflowId) continue;
      if (SETTLED.has(server.status)) {
        this.booting.delete(server.id);
        if (this.told.get(server.id) !== server.status) settled.push({ serverId: server.id, workflowId, status: server.status as BootSettled['status'], seenAt });
      } else if (server.status === 'DELETED') {
        this.booting.delete(server.id);
      } else if (!this.booting.has(server.id)) {
        this.booting.set(server.id, startedAt);
      }
    }
    for (const [serverId, since] of this.booting) if (startedAt - since > TRACK_BOOT_MS) this.booting.delete(serverId);
    // Without a Date header the local clock stands in for the cloud's; the margin covers modest skew.
    const cloudTime = listedAt ? listedAt.getTime() : startedAt;
    return { settled, gone, cursor: Math.max(this.cursorMs, cloudTime - DATE_HEADER_RESOLUTION_MS - this.options.marginMs) };
  }

  /** The list's news was delivered: remember what was said, and continue after it. */
  advance({ settled, cursor }: FeedList): void {
    for (const { serverId, status } of settled) {
      this.told.delete(serverId);
      this.told.set(serverId, status);
    }
    while (this.told.size > REMEMBERED_TOLD) this.told.delete(this.told.keys().next().value!);
    this.cursorMs = cursor;
  }

  /**
   * Idle while nothing of the deployment boots; otherwise the budget's tick: one list serves every
   * booting server, so the tick shortens as more boot (down to the quick tick), which keeps the
   * lists per booting server per minute at the budget and a lone boot's detection lag at ~0.5 s.
   */
  nextDelayMs(): number {
    const { quickTickMs, budgetTickMs, callBudget, idleTickMs } = this.options;
    if (this.booting.size === 0) return idleTickMs;
    return Math.max(quickTickMs, Math.min(budgetTickMs, 60_000 / (callBudget * this.booting.size)));
  }
}
