import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { BuildSlots, type NovaCongestion } from './congestion.js';
import { Quotas, recheck, unlimitedQuota, usageOf, type QuotaLimits } from './quota.js';
import {
  computeHost,
  defaultDomain,
  defaultFlavors,
  defaultImages,
  defaultNetworks,
  defaultUsers,
  projectIds,
  type GlanceStatus,
  type GlanceVisibility,
  type SimFlavor,
  type SimImage,
  type SimNetwork,
  type SimSnapshot,
  type SimUser,
  type SimVolume,
} from './seed.js';

export interface Domain {
  id: string;
  name: string;
}
export interface Project {
  id: string;
  name: string;
  domain: Domain;
}
export interface Role {
  id: string;
  name: string;
}
export interface User {
  id: string;
  name: string;
  password: string;
  domain: Domain;
  project: Project;
  roles: Role[];
  keypairs: string[];
}
export interface Token {
  id: string;
  user: User;
  project: Project;
  roles: Role[];
  methods: string[];
  auditId: string;
  /** A token issued for another token keeps that token's audit id (and its expiry). */
  parentAuditId: string | null;
  applicationCredential: { id: string; name: string } | null;
  issuedAt: Date;
  expiresAt: Date;
}

export interface ApplicationCredentialRecord {
  id: string;
  name: string;
  /** Keystone keeps only a hash; the simulator has nothing to protect. */
  secret: string;
  description: string | null;
  user: User;
  project: Project;
  roles: Role[];
  expiresAt: Date | null;
  unrestricted: boolean;
}

export interface TokenOptions {
  /** Default: now plus the token TTL. */
  expiresAt?: Date;
  parentAuditId?: string;
  applicationCredential?: ApplicationCredentialRecord;
}

export interface ImageRecord {
  id: string;
  name: string | null;
  status: GlanceStatus;
  visibility: GlanceVisibility;
  owner: string | null;
  size: number | null;
  virtualSize: number | null;
  minDisk: number;
  minRam: number;
  diskFormat: string | null;
  containerFormat: string | null;
  checksum: string | null;
  hashValue: string | null;
  protected: boolean;
  hidden: boolean;
  tags: string[];
  properties: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export type FlavorRecord = Required<SimFlavor>;

export interface NetworkRequest {
  uuid?: string;
  port?: string;
  fixedIp?: string;
  tag?: string;
}

export interface BlockDeviceMapping {
  sourceType: 'image' | 'volume' | 'snapshot' | 'blank';
  destinationType: 'local' | 'volume';
  uuid: string | null;
  bootIndex: number | null;
  volumeSize: number | null;
  deleteOnTermination: boolean;
  deviceName: string | null;
}

export interface Fault {
  code: number;
  message: string;
  details: string;
  created: Date;
}

export interface Address {
  network: string;
  addr: string;
  mac: string;
}

export type VmState = 'building' | 'active' | 'error' | 'deleted';
export type ServerStatus = 'BUILD' | 'ACTIVE' | 'ERROR' | 'DELETED';

/** A server as the simulator keeps it. Its status is derived from vmState. */
export interface ServerRecord {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  vmState: VmState;
  /** scheduling: a build request not yet on a host (quota does not count it); then spawning. */
  taskState: 'scheduling' | 'spawning' | 'deleting' | null;
  powerState: number;
  /** null when booted from a volume (Nova then shows `"image": ""`). */
  imageId: string | null;
  flavorId: string;
  metadata: Record<string, string>;
  tags: string[];
  /** As requested: 'none', 'auto', a list, or null when the key was left out. */
  networks: 'none' | 'auto' | NetworkRequest[] | null;
  addresses: Address[];
  securityGroups: string[];
  availabilityZone: string;
  keyName: string | null;
  userData: string | null;
  configDrive: boolean;
  diskConfig: 'AUTO' | 'MANUAL';
  accessIPv4: string;
  accessIPv6: string;
  description: string | null;
  hostname: string;
  host: string | null;
  schedulerHints: Record<string, unknown>;
  blockDeviceMappings: BlockDeviceMapping[];
  trustedImageCertificates: string[] | null;
  fault: Fault | null;
  instanceName: string;
  reservationId: string;
  launchIndex: number;
  createdAt: Date;
  updatedAt: Date;
  launchedAt: Date | null;
  deletedAt: Date | null;
}

/** What `servers()` hands out: a copy, with the status Nova would show. */
export type SimServer = ServerRecord & { status: ServerStatus };

/** How a new server's build ends: on the fake compute host, in ERROR with a fault, or never. */
export type BootOutcome = { kind: 'active' } | { kind: 'error'; fault: Omit<Fault, 'created'> } | { kind: 'stuck' };

export type VolumeRecord = Required<SimVolume>;
export type SnapshotRecord = Required<SimSnapshot>;

/** A server's life as the simulator's own clock sees it, to the millisecond (Nova's timestamps keep whole seconds). */
export interface ServerEvent {
  kind: 'created' | 'active' | 'error' | 'gone';
  serverId: string;
  name: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface StateOptions {
  /** Told of every server's creation and transitions; the benchmark times lifecycles by it. */
  onServerEvent?: (event: ServerEvent) => void;
  /** POST to ACTIVE (or ERROR); the first `scheduleDelayMs` of it the server is still scheduling. */
  bootDelayMs: number;
  scheduleDelayMs: number;
  /** Build slots of the compute host (congestion.ts); null: every build starts at once. */
  novaCongestion: NovaCongestion | null;
  deleteDelayMs: number;
  tokenTtlSeconds: number;
  quota: QuotaLimits;
  images: readonly SimImage[];
  flavors: readonly SimFlavor[];
  users: readonly SimUser[];
  /** Cinder in the catalog and behind Nova's volume mappings; without it those fail as with no Cinder. */
  blockStorage: boolean;
  volumes: readonly SimVolume[];
  snapshots: readonly SimSnapshot[];
}

const keystoneId = (): string => randomUUID().replace(/-/g, '');

/** MySQL DATETIME columns keep whole seconds, and so do Nova's, Glance's and Keystone's timestamps. */
export const wholeSeconds = (ms: number = Date.now()): Date => new Date(Math.floor(ms / 1000) * 1000);

export function statusOf(server: Pick<ServerRecord, 'vmState'>): ServerStatus {
  const map: Record<VmState, ServerStatus> = { building: 'BUILD', active: 'ACTIVE', error: 'ERROR', deleted: 'DELETED' };
  return map[server.vmState];
}

export class SimState {
  readonly domains = new Map<string, Domain>();
  readonly projects = new Map<string, Project>();
  readonly users: User[] = [];
  readonly roles = new Map<string, Role>();
  readonly images: ImageRecord[];
  readonly flavors: FlavorRecord[];
  readonly networks: readonly SimNetwork[] = defaultNetworks;
  readonly blockStorage: boolean;
  readonly volumes: VolumeRecord[];
  readonly snapshots: SnapshotRecord[];
  readonly quotas: Quotas;
  readonly applicationCredentials = new Map<string, ApplicationCredentialRecord>();
  private readonly tokens = new Map<string, Token>();
  private tokenTtlSeconds: number;
  /** Every server ever created, deleted ones included: `changes-since` lists those too. */
  private readonly allServers = new Map<string, ServerRecord>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly buildSlots: BuildSlots;
  private instanceCounter = 0;

  constructor(
    readonly baseUrl: string,
    private readonly options: StateOptions,
  ) {
    this.quotas = new Quotas(options.quota);
    this.tokenTtlSeconds = options.tokenTtlSeconds;
    for (const user of options.users) this.addUser(user);
    this.flavors = options.flavors.map((f) => ({
      ephemeral: 0,
      swap: 0,
      rxtxFactor: 1,
      isPublic: true,
      disabled: false,
      description: null,
      extraSpecs: {},
      ...f,
    }));
    this.images = options.images.map((i) => this.imageRecord(i));
    this.blockStorage = options.blockStorage;
    this.volumes = options.volumes.map((v) => ({
      projectId: projectIds.admin,
      status: 'available',
      bootable: false,
      volumeType: '__DEFAULT__',
      ...v,
    }));
    this.snapshots = options.snapshots.map((v) => ({ projectId: projectIds.admin, status: 'available', ...v }));
    this.buildSlots = new BuildSlots(null, (ms, fn) => this.schedule(ms, fn));
    this.novaCongestion = options.novaCongestion;
  }

  get novaCongestion(): NovaCongestion | null {
    return this.buildSlots.congestion;
  }

  /** Applies to builds still waiting for a slot too. */
  set novaCongestion(congestion: NovaCongestion | null) {
    const spawnMs = this.options.bootDelayMs - this.options.scheduleDelayMs;
    if (congestion && congestion.buildMs > spawnMs) {
      throw new RangeError(
        `a build may hold its slot for at most the spawn, boot delay ${this.options.bootDelayMs} ms minus scheduling ${this.options.scheduleDelayMs} ms = ${spawnMs} ms; got buildMs ${congestion.buildMs}`,
      );
    }
    this.buildSlots.congestion = congestion;
  }

  /** Builds waiting for a slot of the compute host (always 0 without congestion). */
  get queuedBuilds(): number {
    return this.buildSlots.queued;
  }

  private domain(name: string): Domain {
    let domain = this.domains.get(name);
    if (!domain) {
      domain = name === defaultDomain.name ? { ...defaultDomain } : { id: keystoneId(), name };
      this.domains.set(name, domain);
    }
    return domain;
  }

  private role(name: string): Role {
    let role = this.roles.get(name);
    if (!role) {
      role = { id: keystoneId(), name };
      this.roles.set(name, role);
    }
    return role;
  }

  private addUser(spec: SimUser): void {
    const domain = this.domain(spec.domain ?? defaultDomain.name);
    const existing = [...this.projects.values()].find((p) => p.name === spec.project && p.domain === domain);
    const project = existing ?? { id: spec.projectId ?? keystoneId(), name: spec.project, domain };
    this.projects.set(project.id, project);
    this.users.push({
      id: spec.id ?? keystoneId(),
      name: spec.name,
      password: spec.password,
      domain,
      project,
      roles: (spec.roles ?? ['member', 'reader']).map((r) => this.role(r)),
      keypairs: spec.keypairs ?? [],
    });
    const user = this.users.at(-1) as User;
    for (const credential of spec.applicationCredentials ?? []) this.addApplicationCredential(user, credential);
  }

  private imageRecord(spec: SimImage): ImageRecord {
    const created = wholeSeconds(Date.parse(spec.createdAt));
    const hasData = spec.size !== undefined && spec.size !== null;
    const digest = (algorithm: string): string => createHash(algorithm).update(spec.id).digest('hex');
    return {
      id: spec.id,
      name: spec.name,
      status: spec.status ?? 'active',
      visibility: spec.visibility ?? 'public',
      owner: spec.owner === undefined ? projectIds.admin : spec.owner,
      size: spec.size ?? null,
      virtualSize: spec.virtualSize ?? null,
      minDisk: spec.minDisk ?? 0,
      minRam: spec.minRam ?? 0,
      diskFormat: spec.diskFormat ?? null,
      containerFormat: spec.containerFormat ?? null,
      checksum: hasData ? digest('md5') : null,
      hashValue: hasData ? digest('sha512') : null,
      protected: spec.protected ?? false,
      hidden: spec.hidden ?? false,
      tags: [...(spec.tags ?? [])],
      properties: { ...spec.properties },
      createdAt: created,
      updatedAt: spec.updatedAt ? wholeSeconds(Date.parse(spec.updatedAt)) : created,
    };
  }

  issueToken(user: User, methods: string[], options: TokenOptions = {}): Token {
    const issuedAt = wholeSeconds();
    const appCred = options.applicationCredential;
    const token: Token = {
      // Shaped like a Fernet token so that clients logging or truncating it meet realistic input.
      id: `gAAAAAB${randomBytes(132).toString('base64url')}`,
      user,
      project: appCred?.project ?? user.project,
      roles: appCred?.roles ?? user.roles,
      methods,
      auditId: randomBytes(16).toString('base64url').slice(0, 22),
      parentAuditId: options.parentAuditId ?? null,
      applicationCredential: appCred ? { id: appCred.id, name: appCred.name } : null,
      issuedAt,
      expiresAt: options.expiresAt ?? new Date(issuedAt.getTime() + this.tokenTtlSeconds * 1000),
    };
    this.tokens.set(token.id, token);
    return token;
  }

  /** Creates an application credential of the user, for the user's project and roles. */
  addApplicationCredential(
    user: User,
    spec: { id?: string; name: string; secret: string; description?: string | null; expiresAt?: Date | null; unrestricted?: boolean },
  ): ApplicationCredentialRecord {
    const record: ApplicationCredentialRecord = {
      id: spec.id ?? keystoneId(),
      name: spec.name,
      secret: spec.secret,
      description: spec.description ?? null,
      user,
      project: user.project,
      roles: [...user.roles],
      expiresAt: spec.expiresAt ?? null,
      unrestricted: spec.unrestricted ?? false,
    };
    this.applicationCredentials.set(record.id, record);
    return record;
  }

  /** Applies to tokens issued from now on. */
  setTokenTtl(seconds: number): void {
    this.tokenTtlSeconds = seconds;
  }

  /** Every token issued so far stops working at once; returns how many there were. */
  revokeAllTokens(): number {
    const count = this.tokens.size;
    this.tokens.clear();
    return count;
  }

  validToken(id: string | undefined): Token | undefined {
    const token = id === undefined ? undefined : this.tokens.get(id.trim());
    return token && token.expiresAt.getTime() > Date.now() ? token : undefined;
  }

  nextInstanceName(): string {
    this.instanceCounter += 1;
    return `instance-${this.instanceCounter.toString(16).padStart(8, '0')}`;
  }

  /** Includes deleted servers; callers filter. */
  serverRecords(): ServerRecord[] {
    return [...this.allServers.values()];
  }

  server(id: string): ServerRecord | undefined {
    const server = this.allServers.get(id);
    return server && server.vmState !== 'deleted' ? server : undefined;
  }

  liveServers(): ServerRecord[] {
    return this.serverRecords().filter((s) => s.vmState !== 'deleted');
  }

  /**
   * Adds a server in BUILD. Once placed on a host it counts against quota, and like
   * nova-conductor the simulator re-checks the quota a little later, counting every server placed
   * by then: servers of a burst that passed the API's check together all go to ERROR, as on a
   * real Nova. After the boot delay, plus its wait for a build slot when Nova is congested, the
   * server reaches `outcome` (stuck: it stays in BUILD).
   */
  boot(server: ServerRecord, outcome: BootOutcome = { kind: 'active' }): void {
    this.allServers.set(server.id, server);
    this.emit('created', server);
    const building = () => server.vmState === 'building' && server.taskState !== 'deleting';
    const { bootDelayMs, scheduleDelayMs } = this.options;
    const recheckDelayMs = Math.floor((bootDelayMs - scheduleDelayMs) / 2);
    // With congestion the server stays `scheduling` until the compute host has a build slot for it.
    this.schedule(scheduleDelayMs, () => this.buildSlots.enter(building, () => {
      server.taskState = 'spawning';
      server.updatedAt = wholeSeconds();
      this.schedule(recheckDelayMs, () => {
        if (!building()) return;
        const overQuota = this.recheckQuota(server);
        if (overQuota) {
          this.fail(server, { code: 413, message: overQuota, details: '' });
          return;
        }
        if (outcome.kind === 'stuck') return;
        this.schedule(bootDelayMs - scheduleDelayMs - recheckDelayMs, () => {
          if (!building()) return;
          if (outcome.kind === 'error') {
            this.fail(server, outcome.fault);
            return;
          }
          server.vmState = 'active';
          server.taskState = null;
          server.powerState = 1;
          server.host = computeHost;
          server.launchedAt = wholeSeconds();
          server.updatedAt = server.launchedAt;
          this.emit('active', server);
        });
      });
    }));
  }

  private recheckQuota(server: ServerRecord): string | undefined {
    const flavor = (id: string) => this.flavors.find((f) => f.id === id);
    const f = flavor(server.flavorId);
    if (!f) return undefined;
    return recheck(this.quotas.limits(server.projectId), usageOf(this.serverRecords(), server.projectId, flavor), f);
  }

  private fail(server: ServerRecord, fault: Omit<Fault, 'created'>): void {
    const now = wholeSeconds();
    server.vmState = 'error';
    server.taskState = null;
    // nova-compute deallocates the ports of a failed build.
    server.addresses = [];
    server.fault = { ...fault, created: now };
    server.updatedAt = now;
    this.emit('error', server);
  }

  /** Nova answers 204 at once; the server shows task_state `deleting` until it is gone. */
  delete(server: ServerRecord): void {
    if (server.taskState === 'deleting') return;
    server.taskState = 'deleting';
    server.updatedAt = wholeSeconds();
    this.schedule(this.options.deleteDelayMs, () => {
      const now = wholeSeconds();
      server.vmState = 'deleted';
      server.taskState = null;
      server.powerState = 0;
      server.host = null;
      server.addresses = [];
      server.updatedAt = now;
      server.deletedAt = now;
      this.emit('gone', server);
    });
  }

  private emit(kind: ServerEvent['kind'], server: ServerRecord): void {
    this.options.onServerEvent?.({ kind, serverId: server.id, name: server.name, at: Date.now() });
  }

  private schedule(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

export const defaultStateOptions: StateOptions = {
  bootDelayMs: 500,
  scheduleDelayMs: 250,
  novaCongestion: null,
  deleteDelayMs: 200,
  tokenTtlSeconds: 3600,
  quota: unlimitedQuota,
  images: defaultImages,
  flavors: defaultFlavors,
  users: defaultUsers,
  blockStorage: false,
  volumes: [],
  snapshots: [],
};
