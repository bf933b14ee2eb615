import { isOpenStackError, isRecord, OpenStackError } from './errors.js';
import type { HttpResponse, Query } from './http.js';
import type { CallOptions, Session } from './keystone.js';
import type { ServiceConnection, ServiceRequest } from './service.js';

export type ServerStatus =
  | 'ACTIVE'
  | 'BUILD'
  | 'DELETED'
  | 'ERROR'
  | 'HARD_REBOOT'
  | 'MIGRATING'
  | 'PASSWORD'
  | 'PAUSED'
  | 'REBOOT'
  | 'REBUILD'
  | 'RESCUE'
  | 'RESIZE'
  | 'REVERT_RESIZE'
  | 'SHELVED'
  | 'SHELVED_OFFLOADED'
  | 'SHUTOFF'
  | 'SOFT_DELETED'
  | 'SUSPENDED'
  | 'UNKNOWN'
  | 'VERIFY_RESIZE';

export interface ServerFault {
  code: number;
  message: string;
  /** Only for admins, or for non-500 faults. */
  details?: string;
  created: string;
}

export interface ServerAddress {
  addr: string;
  version: 4 | 6;
  'OS-EXT-IPS:type'?: 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr'?: string;
}

/** The fields of a server that this project reads; Nova sends more. */
export interface Server {
  id: string;
  name: string;
  status: ServerStatus;
  tenant_id: string;
  user_id?: string;
  metadata: Record<string, string>;
  /** Microversion 2.26 and later. */
  tags?: string[];
  /** Present when the server is in ERROR (or was, for some faults). */
  fault?: ServerFault;
  created: string;
  updated: string;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:vm_state'?: string;
  addresses: Record<string, ServerAddress[]>;
}

export interface BlockDeviceMapping {
  boot_index?: number | null;
  uuid?: string;
  source_type: 'image' | 'volume' | 'snapshot' | 'blank';
  destination_type?: 'local' | 'volume';
  volume_size?: number;
  delete_on_termination?: boolean;
  device_name?: string;
  volume_type?: string;
  tag?: string;
}

export type ServerNetworks = 'none' | 'auto' | { uuid?: string; port?: string; fixed_ip?: string; tag?: string }[];

/** The `server` object of `POST /servers`. Unlisted keys (a worker's `nova_args`) are sent as given. */
export interface ServerCreate {
  name: string;
  flavorRef: string;
  imageRef?: string;
  /** Required from microversion 2.37 on. */
  networks?: ServerNetworks;
  metadata?: Record<string, string>;
  /** Microversion 2.52 and later. */
  tags?: string[];
  block_device_mapping_v2?: BlockDeviceMapping[];
  key_name?: string;
  /** Base64-encoded. */
  user_data?: string;
  availability_zone?: string;
  security_groups?: { name: string }[];
  config_drive?: boolean;
  description?: string;
  [novaArg: string]: unknown;
}

export interface CreateServerOptions extends CallOptions {
  /** Sent as the top-level `os:scheduler_hints`. */
  schedulerHints?: Record<string, unknown>;
}

export interface CreatedServer {
  id: string;
  /** The generated root password: a secret, keep it out of logs and workflow history. */
  adminPass?: string;
}

export interface ServerFilters {
  /** Nova matches this as a regular expression, not literally: anchor and escape it for an exact name. */
  name?: string;
  status?: ServerStatus;
  /** Servers carrying all of these tags (microversion 2.26 and later). */
  tags?: readonly string[];
  /** Servers carrying any of these tags (microversion 2.26 and later). */
  tagsAny?: readonly string[];
  /** Servers changed since then, deleted ones included (as status DELETED). */
  changesSince?: string | Date;
  /** Page size; all pages are read either way. */
  limit?: number;
  /** Start after this server id. */
  marker?: string;
  /** Admin only: servers of every project. */
  allTenants?: boolean;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  /** `""` for no swap before microversion 2.75. */
  swap: number | '';
  'OS-FLV-EXT-DATA:ephemeral'?: number;
  'os-flavor-access:is_public'?: boolean;
  description?: string | null;
  extra_specs?: Record<string, string>;
}

export interface ComputeVersion {
  id: string;
  status: string;
  /** Undefined when the API has no microversions (legacy v2). */
  minVersion: string | undefined;
  maxVersion: string | undefined;
}

/** `2.N` or `latest`; `2.latest` looks plausible but Nova refuses it with a 400. */
export function checkMicroversion(microversion: string): string {
  if (!/^(\d+\.\d+|latest)$/.test(microversion)) {
    throw new RangeError(`microversion '${microversion}' is not of the form '2.N' or 'latest'`);
  }
  return microversion;
}

/** Nova, the compute service. */
export class ComputeApi {
  private readonly versionHeaders: Record<string, string>;

  constructor(
    private readonly connection: ServiceConnection,
    /** Undefined: the base API (2.1) with no version header. */
    readonly microversion?: string,
  ) {
    this.versionHeaders =
      microversion === undefined
        ? {}
        : {
            'openstack-api-version': `compute ${checkMicroversion(microversion)}`,
            // Nova before Newton (2.27) reads only the older header.
            'x-openstack-nova-api-version': microversion,
          };
  }

  async createServer(server: ServerCreate, options: CreateServerOptions = {}): Promise<CreatedServer> {
    const json: Record<string, unknown> = { server };
    if (options.schedulerHints) json['os:scheduler_hints'] = options.schedulerHints;
    const response = await this.call({
      operation: 'createServer',
      method: 'POST',
      url: (endpoint) => `${endpoint}/servers`,
      json,
      signal: options.signal,
    });
    const created = isRecord(response.body) && isRecord(response.body.server) ? response.body.server : undefined;
    if (typeof created?.id !== 'string') invalid('createServer', response, 'expected "server.id"');
    return typeof created.adminPass === 'string' ? { id: created.id, adminPass: created.adminPass } : { id: created.id };
  }

  /** Undefined when Nova answers 404 (never existed, or deleted and purged). */
  async getServer(id: string, options: CallOptions = {}): Promise<Server | undefined> {
    try {
      const response = await this.call({
        operation: 'getServer',
        method: 'GET',
        url: (endpoint) => `${endpoint}/servers/${encodeURIComponent(id)}`,
        signal: options.signal,
      });
      return serverOf('getServer', response, isRecord(response.body) ? response.body.server : undefined);
    } catch (error) {
      if (isOpenStackError(error, 'notFound')) return undefined;
      throw error;
    }
  }

  /** `GET /servers/detail`, every page. */
  async listServers(filters: ServerFilters = {}, options: CallOptions = {}): Promise<Server[]> {
    const query: Query = {
      name: filters.name,
      status: filters.status,
      tags: filters.tags?.join(','),
      'tags-any': filters.tagsAny?.join(','),
      'changes-since': filters.changesSince instanceof Date ? filters.changesSince.toISOString() : filters.changesSince,
      limit: filters.limit,
      all_tenants: filters.allTenants ? 'True' : undefined,
    };
    const pages = await this.allPages('listServers', '/servers/detail', 'servers', query, filters.marker, options);
    return pages.flatMap((page) => page.items.map((item) => serverOf('listServers', page.response, item)));
  }

  /** 404 counts as success: whoever deleted it, the server is gone. */
  async deleteServer(id: string, options: CallOptions = {}): Promise<'deleted' | 'already-gone'> {
    try {
      await this.call({
        operation: 'deleteServer',
        method: 'DELETE',
        url: (endpoint) => `${endpoint}/servers/${encodeURIComponent(id)}`,
        signal: options.signal,
      });
      return 'deleted';
    } catch (error) {
      if (isOpenStackError(error, 'notFound')) return 'already-gone';
      throw error;
    }
  }

  /** By id first, then by exact name among the flavors visible to the project. */
  async getFlavor(idOrName: string, options: CallOptions = {}): Promise<Flavor> {
    try {
      const response = await this.call({
        operation: 'getFlavor',
        method: 'GET',
        url: (endpoint) => `${endpoint}/flavors/${encodeURIComponent(idOrName)}`,
        signal: options.signal,
      });
      return flavorOf(response, isRecord(response.body) ? response.body.flavor : undefined);
    } catch (error) {
      if (!isOpenStackError(error, 'notFound')) throw error;
    }
    const pages = await this.allPages('getFlavor', '/flavors/detail', 'flavors', {}, undefined, options);
    const matches = pages.flatMap((page) =>
      page.items.filter((item) => isRecord(item) && item.name === idOrName).map((item) => flavorOf(page.response, item)),
    );
    const [only, ...others] = matches;
    if (only === undefined) {
      throw new OpenStackError(
        { kind: 'notFound', service: 'compute', operation: 'getFlavor', retryable: false },
        `no flavor has the id or name '${idOrName}'`,
      );
    }
    if (others.length > 0) {
      throw new OpenStackError(
        { kind: 'ambiguous', service: 'compute', operation: 'getFlavor', retryable: false },
        `${matches.length} flavors are named '${idOrName}' (ids ${matches.map((flavor) => flavor.id).join(', ')}); use an id`,
      );
    }
    return only;
  }

  /** The microversion range, from the version document at the compute root. */
  async versionInfo(options: CallOptions = {}): Promise<ComputeVersion> {
    const response = await this.call({
      operation: 'versionInfo',
      method: 'GET',
      url: (endpoint, session) => `${versionRoot(endpoint, session)}/`,
      signal: options.signal,
    });
    const version = isRecord(response.body) && isRecord(response.body.version) ? response.body.version : undefined;
    if (typeof version?.id !== 'string') invalid('versionInfo', response, 'expected "version.id"');
    const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
    return {
      id: version.id,
      status: typeof version.status === 'string' ? version.status : 'UNKNOWN',
      minVersion: text(version.min_version),
      maxVersion: text(version.version),
    };
  }

  private call(req: ServiceRequest): Promise<HttpResponse> {
    return this.connection.request({ ...req, headers: { ...this.versionHeaders, ...req.headers } });
  }

  /**
   * Follows `<collection>_links` rel=next. Only the marker is taken from the link: Nova builds
   * links from its configured public URL, which behind proxies is not always the one we reach.
   */
  private async allPages(
    operation: string,
    path: string,
    collection: string,
    query: Query,
    firstMarker: string | undefined,
    options: CallOptions,
  ): Promise<{ response: HttpResponse; items: unknown[] }[]> {
    const pages: { response: HttpResponse; items: unknown[] }[] = [];
    const seenMarkers = new Set<string>();
    const seenIds = new Set<string>();
    let marker = firstMarker;
    for (;;) {
      const response = await this.call({
        operation,
        method: 'GET',
        url: (endpoint) => `${endpoint}${path}`,
        query: { ...query, marker },
        signal: options.signal,
      });
      const body = isRecord(response.body) ? response.body : {};
      const items = body[collection];
      if (!Array.isArray(items)) invalid(operation, response, `expected a "${collection}" array`);
      // Keyset pagination never repeats an item; a repeat means the server's paging is broken
      // and the list cannot be trusted to be complete either.
      for (const item of items) {
        const id = isRecord(item) ? item.id : undefined;
        if (typeof id !== 'string') continue;
        if (seenIds.has(id)) invalid(operation, response, `pagination returned ${id} twice`);
        seenIds.add(id);
      }
      pages.push({ response, items });
      const next = nextMarker(body[`${collection}_links`]);
      if (next === undefined) return pages;
      if (seenMarkers.has(next)) invalid(operation, response, `pagination repeats marker ${next}`);
      seenMarkers.add(next);
      marker = next;
    }
  }
}

function nextMarker(links: unknown): string | undefined {
  if (!Array.isArray(links)) return undefined;
  const next: unknown = links.find((link) => isRecord(link) && link.rel === 'next');
  if (!isRecord(next) || typeof next.href !== 'string') return undefined;
  return new URL(next.href, 'http://relative.invalid').searchParams.get('marker') ?? undefined;
}

/** The catalog may hold `.../v2.1/<project id>`; the version document lives at `.../v2.1/`. */
function versionRoot(endpoint: string, session: Session): string {
  const suffix = `/${session.projectId}`;
  return endpoint.endsWith(suffix) ? endpoint.slice(0, -suffix.length) : endpoint;
}

function serverOf(operation: string, response: HttpResponse, value: unknown): Server {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.status !== 'string') {
    invalid(operation, response, 'expected a server with "id" and "status"');
  }
  return value as unknown as Server;
}

function flavorOf(response: HttpResponse, value: unknown): Flavor {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.name !== 'string') {
    invalid('getFlavor', response, 'expected a flavor with "id" and "name"');
  }
  return value as unknown as Flavor;
}

function invalid(operation: string, response: HttpResponse, detail: string): never {
  throw new OpenStackError(
    { kind: 'invalidResponse', service: 'compute', operation, status: response.status, requestId: response.requestId, retryable: false },
    `unexpected answer: ${detail}`,
  );
}
