import { Runtime } from '@temporalio/worker';
import { HttpClient, httpOptionsFor, OpenStackClient, RateLimiter, Semaphore, TokenCache, tokenCacheKey, type RequestObserver } from '../openstack/index.js';
import { ServerWatcher, type WatcherOptions } from '../openstack/serverWatcher.js';
import type { CloudLimits } from '../config/limits.js';
import type { LoadedConfig, ResolvedWorker } from '../config/load.js';
import { cloudScopeOf, workerOrThrow } from '../config/load.js';
import { cloudLabel } from '../config/credentials.js';
import type { ImageFunction } from '../config/serverOptions.js';
import { GoneNotices } from './goneNotices.js';
import { LookupCache } from './lookupCache.js';
import { ServerCap, type ServerCapOptions } from './serverCap.js';
import { BootPacer } from './bootPacer.js';
import { OWNER_KEYS } from './ownerKeys.js';
import { masterDefinedWorker } from '../config/masterDefined.js';
import type { SealingKey } from '../config/sealing.js';
import type { WorkerRef } from '../workflows/types.js';

export interface CloudRegistryOptions {
  /** Open the sealed accounts of workers that CI masters define (LATENT_WORKER_SEALING_KEYS). */
  sealingKeys?: readonly SealingKey[];
  /** For clouds.yaml look-ups of master-defined workers; default process.env. */
  env?: Record<string, string | undefined>;
  /** Per-request timeout for every OpenStack call. */
  timeoutMs?: number;
  /** The quick tick of the shared status poller (see ServerWatcher); default 200 ms. */
  pollIntervalMs?: number;
  /** Further tuning of the shared status poller, for tests. */
  watcher?: Omit<WatcherOptions, 'fastTickMs' | 'log'>;
  /** Told about every OpenStack call of every client (the worker's metrics). */
  observer?: RequestObserver;
  /** Told about every list of each cloud's status poller (the worker's metrics); `cloud` as `distinctClouds` names it. */
  watcherHealth?: (cloud: string) => { listed(ok: boolean, waiting: number): void };
  /** Told how long each request to a cloud waited for `requests_per_second`, or that it was refused. */
  rateLimitTurn?: (cloud: string) => (waitMs: number, refused: boolean) => void;
  /** Told where each cloud's boot cap (`max_booting`) stands and how many servers hold its slots, whenever either changes. */
  bootPacing?: (cloud: string) => (slots: number, booting: number) => void;
  /** How often `max_servers` recounts and how long a create waits for room, for tests. */
  serverCap?: Pick<ServerCapOptions, 'recountMs' | 'maxWaitMs'>;
  /**
   * What this process may use of each cloud's limits until `setShares` says otherwise; the whole
   * limits when absent. A worker process of a fleet starts with none (src/worker/fleetCensus.ts).
   */
  initialShares?: ShareOf;
}

/** What a create of this process tells the cloud's status watcher: a server began to boot, or a create waits for a boot slot. */
export type BootNews = { kind: 'started'; serverId: string } | { kind: 'create-waiting' };

/** This process's part of a cloud's `requests_per_second` and `max_concurrent_creates`. */
export type ShareOf = (limits: CloudLimits) => { requestsPerSecond: number; createSlots: number };

/** What the lifecycles of one cloud (auth URL, project, region) share in this process. */
export interface CloudShare {
  name: string;
  limits: CloudLimits;
  /** This process's share of `requests_per_second`. */
  rateLimiter: RateLimiter;
  /** This process's share of `max_concurrent_creates`. */
  createSlots: Semaphore;
  /** Flavors, images, networks, the compute version. */
  lookups: LookupCache;
  /** `max_servers`, when set. */
  cap: ServerCap | undefined;
  /** `max_booting`, when set. */
  booting: BootPacer | undefined;
}

/**
 * The worker process's view of the clouds: one client per worker definition, and per cloud one
 * connection pool, request budget, create limit, look-up cache and status poller, shared by
 * every lifecycle there; one token cache for all, so every lifecycle on the same cloud and
 * project uses one Keystone token. Credentials live here and nowhere else.
 */
export class CloudRegistry {
  private readonly tokens = new TokenCache();
  private readonly clients = new Map<string, OpenStackClient>();
  private readonly shares = new Map<string, CloudShare>();
  private readonly pools = new Map<string, HttpClient>();
  private readonly watchers = new Map<string, ServerWatcher>();
  private readonly gone = new Map<string, GoneNotices>();
  private readonly bootListeners = new Map<string, Set<(news: BootNews) => void>>();
  /** Workers defined by CI masters, by name, with the account they were opened from. */
  private readonly masterDefined = new Map<string, { account: string; worker: ResolvedWorker }>();
  private shareOf: ShareOf;

  constructor(
    private readonly config: LoadedConfig,
    private readonly options: CloudRegistryOptions = {},
  ) {
    this.shareOf = options.initialShares ?? ((limits) => ({ requestsPerSecond: limits.requestsPerSecond, createSlots: limits.maxConcurrentCreates }));
  }

  /**
   * Makes a master-defined worker known to this process from the sealed account its activity
   * input carries (a no-op for workers the config defines). A master that changed the account
   * (a new password in master.cfg) gets a new client; the old one is closed.
   */
  adopt(ref: WorkerRef): void {
    if (ref.sealedCredentials === undefined) return;
    const worker = masterDefinedWorker(ref.workerName, ref.sealedCredentials, this.options.sealingKeys ?? [], this.options.env ?? process.env);
    const account = JSON.stringify(worker.credentials);
    const known = this.masterDefined.get(ref.workerName);
    if (known?.account === account) return;
    this.masterDefined.set(ref.workerName, { account, worker });
    const stale = this.clients.get(ref.workerName);
    this.clients.delete(ref.workerName);
    void stale?.close();
  }

  forWorker(workerName: string): OpenStackClient {
    let client = this.clients.get(workerName);
    if (!client) {
      const worker = this.worker(workerName);
      client = new OpenStackClient(worker.credentials, {
        tokenCache: this.tokens,
        clientVersion: worker.definition.client_version,
        http: this.poolFor(worker),
      });
      // Said once per worker definition, not once per lifecycle: client_version 1.1, unverified TLS.
      // On the process's log, since a client may first be asked for outside any activity (the census).
      for (const warning of client.warnings) Runtime.instance().logger.warn(`worker "${workerName}": ${warning}`);
      this.clients.set(workerName, client);
    }
    return client;
  }

  /**
   * Whether this process can reach the worker's cloud with the worker's own account: the config
   * still defines it (a running lifecycle may outlive its definition), or its CI master sealed the
   * account into the activity input.
   */
  hasWorker(workerName: string): boolean {
    return this.config.workers.has(workerName) || this.masterDefined.has(workerName);
  }

  /** A configured worker on the cloud and project of this label (a lifecycle's `LatentWorkerCloud`). */
  workerForCloudLabel(label: string): string | undefined {
    for (const [workerName, { credentials }] of this.config.workers) if (cloudLabel(credentials) === label) return workerName;
    return undefined;
  }

  /** The worker's `notify_on_missing`, or none once its definition is gone. */
  recipientsOf(workerName: string): string[] {
    return this.config.workers.get(workerName)?.definition.notify_on_missing ?? [];
  }

  /** The limits, caches and gates of the worker's cloud. */
  shareFor(workerName: string): CloudShare {
    const worker = this.worker(workerName);
    const name = cloudScopeOf(worker.credentials);
    let share = this.shares.get(name);
    if (!share) {
      const { limits } = worker;
      share = {
        name,
        limits,
        rateLimiter: new RateLimiter(limits.requestsPerSecond, Date.now, this.options.rateLimitTurn?.(name)),
        createSlots: new Semaphore(limits.maxConcurrentCreates),
        lookups: new LookupCache(limits.lookupCacheSeconds * 1000),
        cap: limits.maxServers === undefined ? undefined : this.capFor(workerName, name, limits.maxServers),
        booting: limits.maxBooting === undefined ? undefined : new BootPacer(limits.maxBooting, { onChange: this.options.bootPacing?.(name) }),
      };
      this.applyShare(share);
      this.shares.set(name, share);
    }
    return share;
  }

  /**
   * A new share of every cloud's limits for this process, for the clouds it knows now and later.
   * Returns what each configured cloud got, by `distinctClouds`' names.
   */
  setShares(shareOf: ShareOf): { cloud: string; requestsPerSecond: number; createSlots: number }[] {
    this.shareOf = shareOf;
    for (const share of this.shares.values()) this.applyShare(share);
    return this.distinctClouds().map(({ cloud, workerName }) => {
      const { rateLimiter, createSlots } = this.shareFor(workerName);
      return { cloud, requestsPerSecond: rateLimiter.perSecond, createSlots: createSlots.size };
    });
  }

  private applyShare(share: CloudShare): void {
    const { requestsPerSecond, createSlots } = this.shareOf(share.limits);
    share.rateLimiter.setRate(requestsPerSecond);
    share.createSlots.resize(createSlots);
    // A fixed max_booting is the fleet's, split exactly as the create slots are; an adaptive cap is each process's own.
    const { maxBooting } = share.limits;
    if (typeof maxBooting === 'number') share.booting?.setShare(this.shareOf({ ...share.limits, maxConcurrentCreates: maxBooting }).createSlots);
  }

  /**
   * The status poller of the worker's cloud and project, as its token sees them: one per token
   * (cloud, user, scope) and region, so that it reads with credentials that work for the worker.
   */
  watcherFor(workerName: string): ServerWatcher {
    const { credentials } = this.worker(workerName);
    const key = `${tokenCacheKey(credentials)} region:${credentials.regionName ?? ''} interface:${credentials.interface ?? 'public'}`;
    let watcher = this.watchers.get(key);
    if (!watcher) {
      const cloud = cloudLabel(credentials);
      const health = this.options.watcherHealth?.(cloudScopeOf(credentials));
      watcher = new ServerWatcher(this.forWorker(workerName).compute, {
        ...this.options.watcher,
        fastTickMs: this.options.pollIntervalMs,
        onList: health && ((ok, waiting) => health.listed(ok, waiting)),
        // Not the activity logger: the poller outlives the activity that started it.
        log: (message) => Runtime.instance().logger.warn(`${cloud}: ${message}`),
      });
      this.watchers.set(key, watcher);
    }
    return watcher;
  }

  /** Where the fleet's status watcher of `cloud` (as `distinctClouds` names it) reports its lists: the same health metrics as the process's poller. */
  statusWatchHealth(cloud: string): { listed(ok: boolean, waiting: number): void } | undefined {
    return this.options.watcherHealth?.(cloud);
  }

  /** What the fleet's status watcher of `cloud` (as `distinctClouds` names it), while it runs here, saw gone. */
  goneNotices(cloud: string): GoneNotices {
    let notices = this.gone.get(cloud);
    if (!notices) {
      notices = new GoneNotices();
      this.gone.set(cloud, notices);
    }
    return notices;
  }

  /**
   * Tells `listener` of each server this process creates on `cloud` (as `distinctClouds` names
   * it) and of each create that begins to wait for a boot slot, from now on, until what it returns
   * is called: the fleet's status watcher, when it runs here, then lists at the pace a boot (or a
   * create that waits for one to end) needs, before its next list could show it.
   */
  onBootNews(cloud: string, listener: (news: BootNews) => void): () => void {
    let listeners = this.bootListeners.get(cloud);
    if (!listeners) this.bootListeners.set(cloud, (listeners = new Set()));
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** This process created a server on `cloud`, or a create of it waits for a boot slot there. */
  bootNews(cloud: string, news: BootNews): void {
    for (const listener of this.bootListeners.get(cloud) ?? []) listener(news);
  }

  /** The boot cap of `cloud` (as `distinctClouds` names it) in this process, once a create there made one. */
  bootPacerOf(cloud: string): BootPacer | undefined {
    return this.shares.get(cloud)?.booting;
  }

  /** The gone notices of the worker's cloud, project and region. */
  goneNoticesFor(workerName: string): GoneNotices {
    return this.goneNotices(cloudScopeOf(this.worker(workerName).credentials));
  }

  /** The worker's image function (the seed's callable), which stays in this process. */
  imageFunctionFor(workerName: string): ImageFunction {
    const imageFunction = this.worker(workerName).imageFunction;
    if (!imageFunction) throw new Error(`worker "${workerName}" has no image function in ${this.config.source}`);
    return imageFunction;
  }

  /** A non-secret name for the worker's cloud and project, for reports. */
  cloudLabelFor(workerName: string): string {
    return cloudLabel(this.worker(workerName).credentials);
  }

  /**
   * One worker name for each distinct cloud, project and region of the configured workers: a
   * client for any of them lists the same servers.
   */
  distinctClouds(): { cloud: string; workerName: string }[] {
    const byCloud = new Map<string, string>();
    for (const [workerName, { credentials }] of this.config.workers) {
      const cloud = cloudScopeOf(credentials);
      if (!byCloud.has(cloud)) byCloud.set(cloud, workerName);
    }
    return [...byCloud].map(([cloud, workerName]) => ({ cloud, workerName }));
  }

  async close(): Promise<void> {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    this.pools.clear();
  }

  private worker(workerName: string): ResolvedWorker {
    return this.masterDefined.get(workerName)?.worker ?? workerOrThrow(this.config, workerName);
  }

  /** One keep-alive pool per cloud and TLS setting, behind the cloud's request budget. */
  private poolFor(worker: ResolvedWorker): HttpClient {
    const { credentials } = worker;
    const share = this.shareFor(worker.definition.name);
    const key = JSON.stringify([share.name, credentials.cacert, credentials.insecure, credentials.apiTimeoutMs]);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new HttpClient({ ...httpOptionsFor(credentials, { timeoutMs: this.options.timeoutMs, observer: this.options.observer }), rateLimiter: share.rateLimiter });
      this.pools.set(key, pool);
    }
    return pool;
  }

  private capFor(workerName: string, cloud: string, maxServers: number): ServerCap {
    const deployment = this.config.deployment;
    return new ServerCap({
      ...this.options.serverCap,
      maxServers,
      cloud,
      count: async () => {
        const servers = await this.forWorker(workerName).compute.listServers();
        return servers.filter((server) => server.metadata?.[OWNER_KEYS.deployment] === deployment && server.status !== 'DELETED').length;
      },
    });
  }
}

