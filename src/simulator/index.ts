import { novaCongestionSchema, type NovaCongestion } from './congestion.js';
import { controlPrefix, controlService } from './control.js';
import { faultInterceptor } from './faultInterceptor.js';
import { FaultPlan } from './faultPlan.js';
import { parseOrThrow, quotaLimitsSchema, tokenTtlSchema, type FaultRule, type InjectedFault } from './faultRules.js';
import { cinderService } from './cinder.js';
import { glanceService } from './glance.js';
import { keystoneService } from './keystone.js';
import { neutronService } from './neutron.js';
import { novaService } from './nova.js';
import { definedLimits, unlimitedQuota, usageOf, type QuotaLimits } from './quota.js';
import { projectIds, type SimFlavor, type SimImage, type SimSnapshot, type SimUser, type SimVolume } from './seed.js';
import { listen, type RecordedRequest } from './server.js';
import { defaultStateOptions, SimState, statusOf, type ServerEvent, type SimServer } from './state.js';

export { defaultFlavors, defaultImages, defaultNetworks, defaultUsers, projectIds } from './seed.js';
export type { GlanceStatus, GlanceVisibility, SimFlavor, SimImage, SimNetwork, SimSnapshot, SimUser, SimVolume } from './seed.js';
export type { RecordedRequest } from './server.js';
export type { Address, BlockDeviceMapping, Fault, NetworkRequest, ServerEvent, ServerStatus, SimServer, VmState } from './state.js';
export type { FaultRule, InjectedFault } from './faultRules.js';
export { novaDefaultQuota, unlimitedQuota, type QuotaLimits } from './quota.js';
export { SimulatorControl } from './controlClient.js';
export { novaCongestionPresets, parseNovaCongestion, type NovaCongestion, type NovaCongestionPreset } from './congestion.js';

export interface SimulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Called at each server's creation, ACTIVE, ERROR and disappearance, in this process. */
  onServerEvent?: (event: ServerEvent) => void;
  /** BUILD to ACTIVE (or to ERROR). Default 500. */
  bootDelayMs?: number;
  /**
   * The first part of the boot, while the server is not yet placed on a host: task_state
   * `scheduling`, not counted against quota (as in Nova). Default: half the boot delay.
   */
  scheduleDelayMs?: number;
  /**
   * Nova congested by bursts (congestion.ts): the compute host builds `workers` servers at once,
   * each holding its slot for `buildMs` of its spawn; the rest wait, still scheduling. Default
   * none: every server boots in exactly the boot delay, however many boot at once.
   */
  novaCongestion?: NovaCongestion;
  /** DELETE to gone; meanwhile the server shows task_state `deleting`. Default 200. */
  deleteDelayMs?: number;
  /** Default 3600. */
  tokenTtlSeconds?: number;
  /**
   * Every project's quota; -1 is unlimited. Default: unlimited, so that bursts need no setup.
   * `novaDefaultQuota` is what a real Nova starts with.
   */
  quota?: Partial<QuotaLimits>;
  /**
   * Serve Keystone's v2.0 API, as Queens and older did (the Buildbot seed's auth URLs end in
   * /v2.0). Default true. False answers like Zed and later: v2.0 is not in the version list and
   * its paths get Flask's 404 page.
   */
  identityV2?: boolean;
  /**
   * Run Cinder (catalog types `block-storage` and `volumev3`): volume and snapshot reads, and
   * Nova volume mappings that boot. Default false, like the real test cloud, where every
   * `destination_type: volume` mapping fails on the compute host.
   */
  blockStorage?: boolean;
  /** Cinder's volumes and snapshots; they imply `blockStorage`. */
  volumes?: SimVolume[];
  snapshots?: SimSnapshot[];
  /** Run Neutron (catalog type `network`) with the simulator's `private` network. Default false. */
  network?: boolean;
  /** The dice of probabilistic fault rules: values in [0, 1). Default Math.random. */
  random?: () => number;
  images?: SimImage[];
  flavors?: SimFlavor[];
  users?: SimUser[];
}

export interface Simulator {
  /** http://127.0.0.1:PORT */
  url: string;
  /** url + '/identity/v3' */
  authUrlV3: string;
  /** url + '/identity/v2.0' */
  authUrlV2: string;
  /** Every request received so far, oldest first. */
  requests(): RecordedRequest[];
  clearRequests(): void;
  /** Servers not yet gone (deleting ones included), of all projects; copies. */
  servers(): SimServer[];
  /** url + '/_sim': the same controls over HTTP, for other processes (see control.ts). */
  controlUrl: string;
  /** Names of the routes that fault rules may name, e.g. `nova.servers.create`. */
  routes(): string[];
  faults: SimulatorFaults;
  quotas: SimulatorQuotas;
  tokens: SimulatorTokens;
  congestion: SimulatorCongestion;
  close(): Promise<void>;
}

export interface SimulatorCongestion {
  /** Throws a RangeError when the model does not fit the boot delay (a build may hold its slot for at most the spawn). */
  set(congestion: NovaCongestion): NovaCongestion;
  /** Null when every build starts at once. */
  get(): NovaCongestion | null;
  /** Builds waiting for a slot start at once. */
  clear(): void;
}

export interface SimulatorFaults {
  /** Throws a RangeError naming what is wrong with the rule. */
  inject(rule: FaultRule): InjectedFault;
  list(): InjectedFault[];
  /** Removing a `hang` rule lets the requests it holds go on. */
  remove(id: string): boolean;
  clear(): void;
}

export interface SimulatorQuotas {
  /** By project id or name; leaves unnamed resources as they were. */
  set(project: string, limits: Partial<QuotaLimits>): QuotaLimits;
  get(project: string): { quota: QuotaLimits; usage: QuotaLimits };
  reset(project: string): void;
}

export interface SimulatorTokens {
  /** Every token issued so far gets a 401 from now on; returns how many there were. */
  revokeAll(): number;
  /** For tokens issued from now on. */
  setTtl(seconds: number): void;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const bootDelayMs = options.bootDelayMs ?? defaultStateOptions.bootDelayMs;
  const blockStorage = options.blockStorage ?? (options.volumes !== undefined || options.snapshots !== undefined);
  const network = options.network ?? false;
  let recorded: RecordedRequest[] = [];
  // Control calls are not traffic under test: leave them out of requests().
  const front = await listen(options.host ?? '127.0.0.1', options.port ?? 0, (r) => {
    if (!r.path.startsWith(`${controlPrefix}/`)) recorded.push(r);
  });
  let state: SimState;
  try {
    state = new SimState(front.url, {
      onServerEvent: options.onServerEvent,
      bootDelayMs,
      scheduleDelayMs: Math.min(bootDelayMs, options.scheduleDelayMs ?? Math.floor(bootDelayMs / 2)),
      novaCongestion: options.novaCongestion ? parseOrThrow(novaCongestionSchema, options.novaCongestion, 'Nova congestion') : null,
      deleteDelayMs: options.deleteDelayMs ?? defaultStateOptions.deleteDelayMs,
      tokenTtlSeconds: options.tokenTtlSeconds ?? defaultStateOptions.tokenTtlSeconds,
      quota: { ...unlimitedQuota, ...definedLimits(parseOrThrow(quotaLimitsSchema, options.quota ?? {}, 'quota')) },
      images: options.images ?? defaultStateOptions.images,
      flavors: options.flavors ?? defaultStateOptions.flavors,
      users: options.users ?? defaultStateOptions.users,
      blockStorage,
      volumes: options.volumes ?? [],
      snapshots: options.snapshots ?? [],
    });
  } catch (error) {
    // An option that does not hold (a quota, a congestion model longer than the spawn) leaves no port open.
    await front.close();
    throw error;
  }
  const services = [
    keystoneService(state, { identityV2: options.identityV2 ?? true, blockStorage, network }),
    glanceService(state),
    ...(blockStorage ? [cinderService(state)] : []),
    ...(network ? [neutronService(state, projectIds.admin)] : []),
  ];
  const routeNames = () => services.flatMap((s) => s.routes.map((r) => r.name));
  const faults = new FaultPlan(routeNames, options.random);
  services.push(novaService(state, faults));

  const projectId = (idOrName: string): string | undefined =>
    state.projects.has(idOrName) ? idOrName : [...state.projects.values()].find((p) => p.name === idOrName)?.id;
  const knownProject = (idOrName: string): string => {
    const id = projectId(idOrName);
    if (id === undefined) throw new RangeError(`no project has the id or name '${idOrName}'`);
    return id;
  };
  const usage = (id: string) => usageOf(state.serverRecords(), id, (flavorId) => state.flavors.find((f) => f.id === flavorId));
  front.mount([...services, controlService({ state, faults, routeNames, projectId, usage })], faultInterceptor(faults));

  return {
    url: front.url,
    authUrlV3: `${front.url}/identity/v3`,
    authUrlV2: `${front.url}/identity/v2.0`,
    controlUrl: `${front.url}${controlPrefix}`,
    requests: () => structuredClone(recorded),
    clearRequests: () => {
      recorded = [];
    },
    servers: () => state.liveServers().map((s) => structuredClone({ ...s, status: statusOf(s) })),
    routes: () => [...routeNames()],
    faults: {
      inject: (rule) => faults.add(rule),
      list: () => faults.list(),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
    },
    quotas: {
      set: (project, limits) => state.quotas.set(knownProject(project), parseOrThrow(quotaLimitsSchema, limits, 'quota')),
      get: (project) => {
        const id = knownProject(project);
        return { quota: state.quotas.limits(id), usage: usage(id) };
      },
      reset: (project) => state.quotas.reset(knownProject(project)),
    },
    tokens: {
      revokeAll: () => state.revokeAllTokens(),
      setTtl: (seconds) => state.setTokenTtl(parseOrThrow(tokenTtlSchema, { seconds }, 'token TTL').seconds),
    },
    congestion: {
      set: (congestion) => {
        const parsed = parseOrThrow(novaCongestionSchema, congestion, 'Nova congestion');
        state.novaCongestion = parsed;
        return parsed;
      },
      get: () => state.novaCongestion,
      clear: () => {
        state.novaCongestion = null;
      },
    },
    close: async () => {
      // Releases requests held by `hang` rules, so that close() does not wait for them.
      faults.clear();
      state.close();
      await front.close();
    },
  };
}
