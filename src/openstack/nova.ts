import { header, isOpenStackError, isRecord, OpenStackError } from './errors.js';
import type { HttpResponse, Query } from './http.js';
import type { CallOptions, Session } from './keystone.js';
import { checkMicroversion, compareMicroversions, requireMicroversion } from './microversion.js';
import type {
  AbsoluteLimits,
  ComputeLimits,
  ComputeVersion,
  ConsoleOutputOptions,
  CreatedServer,
  CreateServerOptions,
  Flavor,
  NegotiatedMicroversion,
  Server,
  ServerCreate,
  ServerFilters,
} from './novaTypes.js';
import type { ServiceConnection, ServiceRequest } from './service.js';

/** Nova, the compute service. */
export class ComputeApi {
  private readonly versionHeaders: Record<string, string>;
  private negotiated: NegotiatedMicroversion | undefined;

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
    if (server.tags !== undefined) requireMicroversion(this.microversion, '2.52', 'server tags at create', 'createServer');
    const body: ServerCreate = server.user_data === undefined ? server : { ...server, user_data: asBase64(server.user_data) };
    const json: Record<string, unknown> = { server: body };
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

  /** Undefined when Nova answers 404 (never existed, or deleted and purged). A server in ERROR carries its `fault`. */
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
    if (filters.tags !== undefined || filters.tagsAny !== undefined) {
      requireMicroversion(this.microversion, '2.26', 'tag filters', 'listServers');
    }
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

  /**
   * Every server of the project (deleted ones too, as `DELETED`, when `changesSince` is given:
   * Nova lists a server whose `updated` is at or after that time), with the cloud's own clock
   * reading when the list was taken: the first page's `Date` header, so that the next
   * `changes-since` is set by Nova's clock, never by ours.
   */
  async listServerChanges(changesSince: Date | undefined, options: CallOptions = {}): Promise<{ servers: Server[]; listedAt: Date | undefined }> {
    const query: Query = { 'changes-since': changesSince && novaTime(changesSince) };
    const pages = await this.allPages('listServerChanges', '/servers/detail', 'servers', query, undefined, options);
    const date = Date.parse(header(pages[0]!.response.headers, 'date') ?? '');
    return {
      servers: pages.flatMap((page) => page.items.map((item) => serverOf('listServerChanges', page.response, item))),
      listedAt: Number.isNaN(date) ? undefined : new Date(date),
    };
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

  /** The server's console log (the tail of it with `length`); Nova answers 409 while the server is not running. */
  async getConsoleOutput(id: string, options: ConsoleOutputOptions = {}): Promise<string> {
    const response = await this.call({
      operation: 'getConsoleOutput',
      method: 'POST',
      url: (endpoint) => `${endpoint}/servers/${encodeURIComponent(id)}/action`,
      json: { 'os-getConsoleOutput': options.length === undefined ? {} : { length: options.length } },
      signal: options.signal,
    });
    const output = isRecord(response.body) ? response.body.output : undefined;
    if (typeof output !== 'string') invalid('getConsoleOutput', response, 'expected an "output" string');
    return output;
  }

  /**
   * By id first, then by exact name. The name lookup asks for private flavors too
   * (`is_public=None`, as openstacksdk does): admins then see every flavor, other users see the
   * public ones and the private ones shared with their project, as without the parameter.
   */
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
    const pages = await this.allPages('getFlavor', '/flavors/detail', 'flavors', { is_public: 'None' }, undefined, options);
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

  /** The project's absolute limits and usage, for a quota check before creating. */
  async getLimits(options: CallOptions = {}): Promise<ComputeLimits> {
    const response = await this.call({ operation: 'getLimits', method: 'GET', url: (endpoint) => `${endpoint}/limits`, signal: options.signal });
    const limits = isRecord(response.body) && isRecord(response.body.limits) ? response.body.limits : undefined;
    if (!limits || !isRecord(limits.absolute)) invalid('getLimits', response, 'expected "limits.absolute"');
    const absolute: AbsoluteLimits = {};
    for (const [name, value] of Object.entries(limits.absolute)) {
      if (typeof value === 'number') absolute[name] = value;
    }
    return { absolute };
  }

  /**
   * The microversion range, from the version document at the compute root. Asked without a
   * version header: Nova negotiates it there too and answers 406 to one it does not serve.
   */
  async versionInfo(options: CallOptions = {}): Promise<ComputeVersion> {
    const response = await this.connection.request({
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

  /**
   * Checks that the cloud serves this client's microversion, so that a too-new `client_version`
   * fails once, early and clearly, rather than as a 406 on every call. Remembered once it passes.
   */
  async negotiateMicroversion(options: CallOptions = {}): Promise<NegotiatedMicroversion> {
    if (this.negotiated) return this.negotiated;
    const info = await this.versionInfo(options);
    const requested = this.microversion;
    const refuse = (detail: string): never => {
      throw new OpenStackError({ kind: 'unsupportedVersion', service: 'compute', operation: 'negotiateMicroversion', retryable: false }, detail);
    };
    if (info.minVersion === undefined || info.maxVersion === undefined) {
      // A legacy v2 endpoint: only the base API, and no header to ask for more.
      if (requested !== undefined) refuse(`compute microversion ${requested} was asked for, but this cloud's compute API (${info.id}) has no microversions`);
      return (this.negotiated = { requested, effective: '2.0', minVersion: '2.0', maxVersion: '2.0' });
    }
    const { minVersion, maxVersion } = info;
    const effective = requested === undefined ? minVersion : requested === 'latest' ? maxVersion : requested;
    if (compareMicroversions(effective, minVersion) < 0 || compareMicroversions(effective, maxVersion) > 0) {
      refuse(`compute microversion ${effective} is not offered by this cloud, which serves ${minVersion} to ${maxVersion}; set client_version to one in that range`);
    }
    return (this.negotiated = { requested, effective, minVersion, maxVersion });
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

/**
 * How many more servers of this flavor the project's quota allows (Infinity when unlimited).
 * A usage value Nova did not send counts as zero.
 */
export function serversThatFit(limits: ComputeLimits, flavor?: Pick<Flavor, 'vcpus' | 'ram'>): number {
  const { absolute } = limits;
  const room = (max: number | undefined, used: number | undefined, each: number): number => {
    if (max === undefined || max < 0 || each <= 0) return Infinity;
    return Math.max(0, Math.floor((max - (used ?? 0)) / each));
  };
  return Math.min(
    room(absolute.maxTotalInstances, absolute.totalInstancesUsed, 1),
    flavor ? room(absolute.maxTotalCores, absolute.totalCoresUsed, flavor.vcpus) : Infinity,
    flavor ? room(absolute.maxTotalRAMSize, absolute.totalRAMUsed, flavor.ram) : Infinity,
  );
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Nova decodes `user_data` as base64 and refuses anything else with a 400. */
export function asBase64(userData: string): string {
  return BASE64.test(userData) ? userData : Buffer.from(userData, 'utf8').toString('base64');
}

/** Whole seconds, as Nova stores them: `2026-11-29T21:46:50Z`. */
function novaTime(time: Date): string {
  return time.toISOString().replace(/\.\d+Z$/, 'Z');
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
