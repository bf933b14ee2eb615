import { randomBytes, randomUUID } from 'node:crypto';
import type { FaultPlan } from './faultPlan.js';
import { novaError, novaFault, novaUnexpected } from './novaFaults.js';
import { isAdmin, requireToken } from './keystone.js';
import { maxMinor, minMinor, negotiate, versionHeaders } from './microversion.js';
import { parseCreate, type CreateRequest } from './novaCreate.js';
import { novaQuotaHandlers } from './novaQuotas.js';
import { admit, usageOf } from './quota.js';
import { flavorDetail, flavorSummary, links, serverDetail, serverSummary, type ViewContext } from './novaViews.js';
import { additionalPropertiesMessage, isObject, novaValidationDetail, parseIsoTime, SchemaError, validate, type Schema } from './schema.js';
import { availabilityZone, computeHost, region } from './seed.js';
import {
  encodeQuery,
  HttpError,
  lastValue,
  route,
  type Query,
  type Service,
  type SimRequest,
  type SimResponse,
} from './server.js';
import { type Address, type BootOutcome, type FlavorRecord, type NetworkRequest, type ImageRecord, type ServerRecord, type SimState, type Token, type VmState, wholeSeconds } from './state.js';
import { webobError } from './webob.js';

interface Ctx {
  token: Token;
  minor: number;
  admin: boolean;
}

const maxLimit = 1000;

// Which vm_state each server status filter selects (nova/api/openstack/common.py _STATE_MAP).
// Statuses the simulator never produces select states no server is in, but are still valid.
const statusFilter: Record<string, VmState | 'other'> = {
  ACTIVE: 'active',
  BUILD: 'building',
  ERROR: 'error',
  DELETED: 'deleted',
  ...Object.fromEntries(
    [
      'HARD_REBOOT', 'MIGRATING', 'PASSWORD', 'PAUSED', 'REBOOT', 'REBUILD', 'RESCUE', 'RESIZE',
      'REVERT_RESIZE', 'SHELVED', 'SHELVED_OFFLOADED', 'SHUTOFF', 'SOFT_DELETED', 'SUSPENDED',
      'UNKNOWN', 'VERIFY_RESIZE',
    ].map((s) => [s, 'other' as const]),
  ),
};

// query_params_v21 .. v273 of nova/api/openstack/compute/schemas/servers.py; from 2.75 any other
// parameter is a 400.
const knownListParams = new Set([
  'user_id', 'project_id', 'tenant_id', 'launch_index', 'image_ref', 'image', 'kernel_id', 'ramdisk_id',
  'hostname', 'key_name', 'power_state', 'vm_state', 'task_state', 'host', 'node', 'flavor', 'reservation_id',
  'launched_at', 'terminated_at', 'availability_zone', 'name', 'display_name', 'description',
  'display_description', 'locked_by', 'uuid', 'root_device_name', 'config_drive', 'access_ip_v4',
  'access_ip_v6', 'auto_disk_config', 'progress', 'sort_key', 'sort_dir', 'all_tenants', 'soft_deleted',
  'deleted', 'status', 'changes-since', 'ip', 'ip6', 'created_at', 'block_device_mapping', 'services',
  'metadata', 'system_metadata', 'info_cache', 'security_groups', 'pci_devices', 'limit', 'marker',
  'tags', 'tags-any', 'not-tags', 'not-tags-any', 'changes-before', 'locked',
]);

const listQuerySchema: Schema = {
  type: 'object',
  properties: {
    'changes-since': { type: 'array', items: { type: 'string', format: 'date-time' } },
    limit: { type: 'array', items: { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0 } },
  },
};

const asList = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

function validateQuery(query: Query, minor: number): void {
  if (minor >= 75) {
    const unknown = Object.keys(query).filter((k) => !knownListParams.has(k));
    if (unknown.length > 0) throw novaError(400, additionalPropertiesMessage(unknown));
  }
  try {
    validate(listQuerySchema, Object.fromEntries(Object.entries(query).map(([k, v]) => [k, asList(v)])));
  } catch (error) {
    if (error instanceof SchemaError) throw novaError(400, novaValidationDetail(error, 'query'));
    throw error;
  }
}

// Nova sorts by created_at then id, both descending.
const newestFirst = (a: ServerRecord, b: ServerRecord): number =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

const truthyParam = (v: string | undefined): boolean =>
  v !== undefined && ['1', 't', 'true', 'on', 'y', 'yes'].includes(v.toLowerCase());

// MySQL's REGEXP on Nova's case-insensitive collation; a pattern JavaScript cannot compile is
// matched literally rather than failing the whole list.
function nameMatcher(pattern: string): (name: string) => boolean {
  try {
    const re = new RegExp(pattern, 'i');
    return (name) => re.test(name);
  } catch {
    return (name) => name.toLowerCase().includes(pattern.toLowerCase());
  }
}

const sanitizeHostname = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[ _]/g, '-')
    .replace(/[^a-z0-9.-]/g, '')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, 63) || 'server';

// nova.utils.generate_password's default alphabet leaves out look-alike characters.
const passwordAlphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const generatePassword = (): string =>
  [...randomBytes(12)].map((b) => passwordAlphabet[b % passwordAlphabet.length]).join('');

const fakeConsole = ['FAKE CONSOLE OUTPUT', 'ANOTHER', 'LAST LINE'];

export function novaService(state: SimState, faults: FaultPlan): Service {
  const { baseUrl } = state;
  const quotas = novaQuotaHandlers(state);
  let nextHostOctet = 3;

  const viewContext = (ctx: Ctx): ViewContext => ({
    minor: ctx.minor,
    admin: ctx.admin,
    baseUrl,
    flavor: (id) => state.flavors.find((f) => f.id === id),
  });

  const visibleServer = (ctx: Ctx, id: string): ServerRecord => {
    const server = state.server(id);
    if (!server || (server.projectId !== ctx.token.project.id && !ctx.admin)) {
      throw novaError(404, `Instance ${id} could not be found.`);
    }
    return server;
  };

  const visibleImage = (ctx: Ctx, id: string): ImageRecord | undefined =>
    state.images.find(
      (i) => i.id === id && (i.visibility === 'public' || i.visibility === 'community' || i.owner === ctx.token.project.id || ctx.admin),
    );

  const nextLink = (req: SimRequest, collection: string, marker: string) => {
    const params: Query = { ...req.query };
    delete params.marker;
    params.marker = marker;
    return [{ rel: 'next', href: `${baseUrl}/compute/v2.1/${collection}?${encodeQuery(params)}` }];
  };

  const limitOf = (query: Query): number | undefined => {
    const raw = lastValue(query.limit);
    return raw === undefined ? undefined : Math.min(maxLimit, Number(raw) || maxLimit);
  };

  function listServers(req: SimRequest, ctx: Ctx, detail: boolean): SimResponse {
    const q = req.query;
    validateQuery(q, ctx.minor);
    const allTenants = truthyParam(lastValue(q.all_tenants));
    if (allTenants && !ctx.admin) {
      throw novaError(403, `Policy doesn't allow os_compute_api:servers:${detail ? 'detail' : 'index'}:get_all_tenants to be performed.`);
    }
    const inScope = state
      .serverRecords()
      .filter((s) => allTenants || s.projectId === ctx.token.project.id)
      .sort(newestFirst);

    const filters: ((s: ServerRecord) => boolean)[] = [];
    const changesSince = lastValue(q['changes-since']);
    if (changesSince !== undefined) {
      const since = parseIsoTime(changesSince)?.getTime() ?? 0;
      filters.push((s) => s.updatedAt.getTime() >= since);
    }
    const states = q.status === undefined ? undefined : asList(q.status).flatMap((s) => statusFilter[s.toUpperCase()] ?? []);
    if (states !== undefined) {
      if (states.length === 0) {
        if (ctx.minor >= 38) throw novaError(400, 'Invalid status value');
        return { status: 200, json: { servers: [] } };
      }
      if (states.includes('deleted') && !ctx.admin) throw novaError(403, 'Only administrators may list deleted instances');
      filters.push((s) => states.includes(s.vmState));
    }
    // Deleted servers show up only when asked for by changes-since or status=DELETED.
    if (changesSince === undefined && !states?.includes('deleted')) filters.push((s) => s.vmState !== 'deleted');
    const name = lastValue(q.name);
    if (name !== undefined) {
      const matches = nameMatcher(name);
      filters.push((s) => matches(s.name));
    }
    const image = lastValue(q.image);
    if (image !== undefined) filters.push((s) => s.imageId === image);
    const flavor = lastValue(q.flavor);
    if (flavor !== undefined) filters.push((s) => s.flavorId === flavor);
    if (ctx.minor >= 26) {
      const tagList = (key: string) => lastValue(q[key])?.split(',');
      const all = tagList('tags');
      const any = tagList('tags-any');
      const notAll = tagList('not-tags');
      const notAny = tagList('not-tags-any');
      if (all) filters.push((s) => all.every((t) => s.tags.includes(t)));
      if (any) filters.push((s) => any.some((t) => s.tags.includes(t)));
      if (notAll) filters.push((s) => !notAll.every((t) => s.tags.includes(t)));
      if (notAny) filters.push((s) => !notAny.some((t) => s.tags.includes(t)));
    }
    let selected = inScope.filter((s) => filters.every((f) => f(s)));

    const marker = lastValue(q.marker);
    if (marker !== undefined) {
      const markerServer = inScope.find((s) => s.id === marker);
      if (!markerServer) throw novaError(400, `marker [${marker}] not found`);
      selected = selected.filter((s) => newestFirst(s, markerServer) > 0);
    }
    const limit = limitOf(q) ?? maxLimit;
    const page = selected.slice(0, limit);
    const view = detail ? page.map((s) => serverDetail(s, viewContext(ctx))) : page.map((s) => serverSummary(s, baseUrl));
    const last = page.at(-1);
    return {
      status: 200,
      json: {
        servers: view,
        ...(last && page.length === limit ? { servers_links: nextLink(req, detail ? 'servers/detail' : 'servers', last.id) } : {}),
      },
    };
  }

  // What nova-compute reports for a volume it cannot create when the cloud has no Cinder.
  const volumeFailure = (serverId: string) => {
    const message = `Build of instance ${serverId} aborted: publicURL endpoint for volumev3 service in ${region} region not found`;
    return {
      code: 500,
      message,
      details: [
        'Traceback (most recent call last):',
        '  File "/usr/lib/python3/dist-packages/nova/compute/manager.py", line 2227, in _prep_block_device',
        '    driver_block_device.attach_block_devices(',
        '  File "/usr/lib/python3/dist-packages/nova/volume/cinder.py", line 138, in _get_cinderclient_parameters',
        '    url = _SESSION.get_endpoint(auth, **service_parameters)',
        'keystoneauth1.exceptions.catalog.EndpointNotFound: publicURL endpoint for volumev3 service in RegionOne region not found',
        '',
        'During handling of the above exception, another exception occurred:',
        '',
        `nova.exception.BuildAbortException: ${message}`,
        '',
      ].join('\n'),
    };
  };

  /** The lookups compute/api.py makes before it counts quota (all answer 400 or 403). */
  function checkCreate(r: CreateRequest, ctx: Ctx): { flavor: FlavorRecord; image: ImageRecord | undefined } {
    if ((r.host !== undefined || r.hypervisorHostname !== undefined) && !ctx.admin) {
      throw novaError(403, "Policy doesn't allow compute:servers:create:requested_destination to be performed.");
    }
    const flavor = state.flavors.find((f) => f.id === r.flavorRef && (f.isPublic || ctx.admin));
    if (!flavor) throw novaError(400, `Flavor ${r.flavorRef} could not be found.`);
    let image: ImageRecord | undefined;
    if (r.imageRef) {
      image = visibleImage(ctx, r.imageRef);
      if (!image) throw novaError(400, 'Can not find requested image');
      if (image.status !== 'active') throw novaError(400, `Image ${image.id} is not active.`);
    }
    if (r.availabilityZone !== undefined && r.availabilityZone !== availabilityZone) {
      throw novaError(400, 'The requested availability zone is not available');
    }
    if (r.host !== undefined && r.host !== computeHost) throw novaError(400, `Compute host ${r.host} could not be found.`);
    if (r.hypervisorHostname !== undefined && r.hypervisorHostname !== computeHost) {
      throw novaError(400, `Compute host ${r.hypervisorHostname} could not be found.`);
    }
    if (r.keyName !== undefined && !ctx.token.user.keypairs.includes(r.keyName)) throw novaError(400, 'Invalid key_name provided.');
    const volumeBacked = r.blockDeviceMappings.some((b) => b.bootIndex === 0 && b.destinationType === 'volume');
    if (image && !volumeBacked) {
      if (flavor.ram < image.minRam) throw novaError(400, "Flavor's memory is too small for requested image.");
      if (flavor.disk > 0 && flavor.disk < image.minDisk) throw novaError(400, "Flavor's disk is too small for requested image.");
    }
    for (const group of r.securityGroups) {
      if (group !== 'default') throw novaError(400, `Unable to find security_group with name or id '${group}'`);
    }
    if (Array.isArray(r.networks)) {
      for (const n of r.networks) {
        if (n.port !== undefined) throw novaError(400, `Port id ${n.port} could not be found.`);
        if (!state.networks.some((net) => net.id === n.uuid)) throw novaError(400, `Network ${n.uuid} could not be found.`);
      }
    }
    const group = r.schedulerHints.group;
    if (typeof group === 'string') throw novaError(400, `Instance group ${group} could not be found.`);
    return { flavor, image };
  }

  // Cinder lookups as the user: without Cinder in the cloud (the default) nothing is found.
  const volumeFound = (ctx: Ctx, id: string | null | undefined): boolean =>
    state.blockStorage && state.volumes.some((v) => v.id === id && (ctx.admin || v.projectId === ctx.token.project.id));
  const snapshotFound = (ctx: Ctx, id: string | null | undefined): boolean =>
    state.blockStorage && state.snapshots.some((v) => v.id === id && (ctx.admin || v.projectId === ctx.token.project.id));

  // compute/api.py _validate_bdm. Without Cinder, volumes and snapshots cannot be looked up at
  // all, and image-to-volume mappings pass here and fail later on the compute host.
  function checkBlockDevices(r: CreateRequest, ctx: Ctx): void {
    for (const legacy of r.legacyVolumes) {
      if (legacy.volumeId && !volumeFound(ctx, legacy.volumeId)) {
        throw novaError(400, `Block Device Mapping is Invalid: failed to get volume ${legacy.volumeId}.`);
      }
      if (legacy.snapshotId && !snapshotFound(ctx, legacy.snapshotId)) {
        throw novaError(400, `Block Device Mapping is Invalid: failed to get snapshot ${legacy.snapshotId}.`);
      }
    }
    const bdms = r.blockDeviceMappings;
    if (bdms.length === 0) return;
    const bootIndexes = bdms.flatMap((b) => (b.bootIndex !== null && b.bootIndex >= 0 ? [b.bootIndex] : []));
    // An imageRef without a boot_index 0 mapping becomes the root disk (boot_index 0).
    if (r.imageRef && !bootIndexes.includes(0)) bootIndexes.push(0);
    bootIndexes.sort((a, b) => a - b);
    if (bootIndexes.length === 0 || bootIndexes.some((v, i) => v !== i)) {
      throw novaError(
        400,
        'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.',
      );
    }
    for (const b of bdms) {
      if (b.sourceType === 'image') {
        if (b.uuid !== r.imageRef && !visibleImage(ctx, b.uuid ?? '')) {
          throw novaError(400, `Block Device Mapping is Invalid: failed to get image ${b.uuid}.`);
        }
        if (b.destinationType === 'volume' && !b.volumeSize) {
          throw novaError(400, "Images with destination_type 'volume' need to have a non-zero size specified");
        }
      } else if (b.sourceType === 'volume') {
        if (!volumeFound(ctx, b.uuid)) throw novaError(400, `Block Device Mapping is Invalid: failed to get volume ${b.uuid}.`);
      } else if (b.sourceType === 'snapshot') {
        if (!snapshotFound(ctx, b.uuid)) throw novaError(400, `Block Device Mapping is Invalid: failed to get snapshot ${b.uuid}.`);
      } else if (b.destinationType === 'volume' && !b.volumeSize) {
        throw novaError(400, "Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size");
      }
    }
  }

  function allocateAddresses(r: CreateRequest): Address[] {
    // "auto", and no networks key below 2.37, attach the cloud's only network.
    const requested: NetworkRequest[] =
      r.networks === 'auto' || r.networks === null
        ? state.networks.slice(0, 1).map((n) => ({ uuid: n.id }))
        : r.networks === 'none'
          ? []
          : r.networks;
    return requested.flatMap((n) => {
      const network = state.networks.find((net) => net.id === n.uuid);
      if (!network) return [];
      const mac = `fa:16:3e:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
      return [{ network: network.name, addr: n.fixedIp ?? `${network.cidrPrefix}.${nextHostOctet++}`, mac }];
    });
  }

  function createServer(req: SimRequest, ctx: Ctx): SimResponse {
    if (req.body.kind === 'malformed') throw novaError(400, 'Malformed request body');
    const r = parseCreate(req.body.kind === 'json' ? req.body.value : null, ctx.minor);
    const { flavor, image } = checkCreate(r, ctx);
    const quota = admit(
      state.quotas.limits(ctx.token.project.id),
      usageOf(state.serverRecords(), ctx.token.project.id, (id) => state.flavors.find((f) => f.id === id)),
      flavor,
      r.minCount,
      r.maxCount,
    );
    if (!quota.ok) throw novaError(403, quota.message);
    checkBlockDevices(r, ctx);
    const volumesFail = !state.blockStorage && r.blockDeviceMappings.some((b) => b.destinationType === 'volume');
    const reservationId = `r-${randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 8)}`;
    const adminPass = r.adminPass ?? generatePassword();
    const now = wholeSeconds();
    const servers: ServerRecord[] = [];
    for (let i = 0; i < quota.count; i += 1) {
      const name = quota.count > 1 ? `${r.name}-${i + 1}` : r.name;
      const addresses = allocateAddresses(r);
      const server: ServerRecord = {
        id: randomUUID(),
        name,
        projectId: ctx.token.project.id,
        userId: ctx.token.user.id,
        vmState: 'building',
        taskState: 'scheduling',
        powerState: 0,
        imageId: image?.id ?? null,
        flavorId: flavor.id,
        metadata: { ...r.metadata },
        tags: [...new Set(r.tags)],
        networks: r.networks,
        addresses,
        securityGroups: addresses.length > 0 ? r.securityGroups : [],
        availabilityZone: r.availabilityZone ?? availabilityZone,
        keyName: r.keyName ?? null,
        userData: r.userData,
        configDrive: r.configDrive,
        diskConfig: r.diskConfig,
        accessIPv4: r.accessIPv4,
        accessIPv6: r.accessIPv6,
        description: r.description,
        hostname: r.hostname ?? sanitizeHostname(name),
        host: null,
        schedulerHints: r.schedulerHints,
        blockDeviceMappings: r.blockDeviceMappings,
        trustedImageCertificates: r.trustedImageCertificates,
        fault: null,
        instanceName: state.nextInstanceName(),
        reservationId,
        launchIndex: i,
        createdAt: now,
        updatedAt: now,
        launchedAt: null,
        deletedAt: null,
      };
      state.boot(server, volumesFail ? { kind: 'error', fault: volumeFailure(server.id) } : injectedOutcome(name));
      servers.push(server);
    }
    if (r.returnReservationId) return { status: 202, json: { reservation_id: reservationId } };
    const first = servers[0] as ServerRecord;
    const serverLinks = links(baseUrl, 'servers', first.id);
    return {
      status: 202,
      headers: { location: serverLinks[0]?.href ?? '' },
      json: {
        server: {
          id: first.id,
          links: serverLinks,
          'OS-DCF:diskConfig': first.diskConfig,
          security_groups: r.securityGroups.map((name) => ({ name })),
          adminPass,
        },
      },
    };
  }

  function injectedOutcome(name: string): BootOutcome {
    const plan = faults.bootPlan(name);
    if (plan === undefined) return { kind: 'active' };
    if (plan.kind === 'stuck') return plan;
    // Nova keeps a traceback as the details of 500 faults only; a one-line stand-in will do.
    const details = plan.details ?? (plan.code === 500 ? `Traceback (most recent call last):\nnova.exception.BuildAbortException: ${plan.message}\n` : '');
    return { kind: 'error', fault: { code: plan.code, message: plan.message, details } };
  }

  const consoleOutputSchema: Schema = {
    type: 'object',
    properties: {
      'os-getConsoleOutput': {
        type: 'object',
        properties: { length: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$', minimum: -1 } },
        additionalProperties: false,
      },
    },
    required: ['os-getConsoleOutput'],
    additionalProperties: false,
  };

  function serverAction(req: SimRequest, ctx: Ctx): SimResponse {
    if (req.body.kind === 'malformed') throw novaError(400, 'Malformed request body');
    const body = req.body.kind === 'json' ? req.body.value : null;
    const action = isObject(body) ? Object.keys(body)[0] : undefined;
    if (action !== 'os-getConsoleOutput') throw novaError(400, `There is no such action: ${action ?? 'None'}`);
    const server = visibleServer(ctx, req.params.id ?? '');
    try {
      validate(consoleOutputSchema, body);
    } catch (error) {
      if (error instanceof SchemaError) throw novaError(400, novaValidationDetail(error, 'body'));
      throw error;
    }
    if (server.vmState !== 'active' || server.taskState === 'deleting') {
      throw novaError(409, `Instance ${server.id} is not ready`);
    }
    const rawLength = (body as Record<string, { length?: number | string | null }>)['os-getConsoleOutput']?.length;
    const length = rawLength === undefined || rawLength === null ? -1 : Number(rawLength);
    const lines = length < 0 ? fakeConsole : fakeConsole.slice(Math.max(0, fakeConsole.length - length));
    return { status: 200, json: { output: lines.join('\n') } };
  }

  function listFlavors(req: SimRequest, ctx: Ctx, detail: boolean): SimResponse {
    let flavors = state.flavors.filter((f) => f.isPublic || ctx.admin).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const marker = lastValue(req.query.marker);
    if (marker !== undefined) {
      const index = flavors.findIndex((f) => f.id === marker);
      if (index < 0) throw novaError(400, `marker [${marker}] not found`);
      flavors = flavors.slice(index + 1);
    }
    const limit = limitOf(req.query) ?? maxLimit;
    const page = flavors.slice(0, limit);
    const last = page.at(-1);
    return {
      status: 200,
      json: {
        flavors: page.map((f) => (detail ? flavorDetail(f, ctx.minor, baseUrl) : flavorSummary(f, ctx.minor, baseUrl))),
        ...(last && page.length === limit ? { flavors_links: nextLink(req, detail ? 'flavors/detail' : 'flavors', last.id) } : {}),
      },
    };
  }

  /** keystonemiddleware, then microversion negotiation, then the controller, as in Nova's pipeline. */
  const api = (name: string, method: string, template: string, handler: (req: SimRequest, ctx: Ctx) => SimResponse) =>
    route(name, method, `/compute/v2.1${template}`, (req) => {
      const token = requireToken(state, req);
      const version = negotiate(req.headers);
      if (!version.ok) return { ...novaFault(version.status, version.message), headers: version.headers };
      const ctx: Ctx = { token, minor: version.minor, admin: isAdmin(token) };
      let res: SimResponse;
      try {
        res = handler(req, ctx);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        res = error.response;
      }
      return { ...res, headers: { ...versionHeaders(`2.${ctx.minor}`), ...res.headers } };
    });

  const v21 = {
    id: 'v2.1',
    status: 'CURRENT',
    version: `2.${maxMinor}`,
    min_version: `2.${minMinor}`,
    updated: '2013-07-23T11:33:21Z',
  };

  const routes = [
    route('nova.versions', 'GET', '/compute/?', () => ({
      status: 200,
      json: {
        versions: [
          {
            id: 'v2.0',
            status: 'SUPPORTED',
            version: '',
            min_version: '',
            updated: '2011-01-21T11:33:21Z',
            links: [{ rel: 'self', href: `${baseUrl}/compute/v2/` }],
          },
          { ...v21, links: [{ rel: 'self', href: `${baseUrl}/compute/v2.1/` }] },
        ],
      },
    })),
    // The version document sits behind the microversion middleware (but not auth_token).
    route('nova.version', 'GET', '/compute/v2.1/?', (req) => {
      const version = negotiate(req.headers);
      if (!version.ok) return { ...novaFault(version.status, version.message), headers: version.headers };
      return {
        status: 200,
        headers: versionHeaders(`2.${version.minor}`),
        json: {
          version: {
            ...v21,
            links: [
              { rel: 'self', href: `${baseUrl}/compute/v2.1/` },
              { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
            ],
            'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
          },
        },
      };
    }),
    api('nova.servers.list', 'GET', '/servers', (req, ctx) => listServers(req, ctx, false)),
    api('nova.servers.detail', 'GET', '/servers/detail', (req, ctx) => listServers(req, ctx, true)),
    api('nova.servers.create', 'POST', '/servers', createServer),
    api('nova.servers.show', 'GET', '/servers/{id}', (req, ctx) => ({
      status: 200,
      json: { server: serverDetail(visibleServer(ctx, req.params.id ?? ''), viewContext(ctx)) },
    })),
    api('nova.servers.delete', 'DELETE', '/servers/{id}', (req, ctx) => {
      const server = visibleServer(ctx, req.params.id ?? '');
      if (faults.deleteFails(server.id, server.name)) throw novaError(500, novaUnexpected);
      state.delete(server);
      return { status: 204 };
    }),
    api('nova.servers.action', 'POST', '/servers/{id}/action', serverAction),
    api('nova.flavors.list', 'GET', '/flavors', (req, ctx) => listFlavors(req, ctx, false)),
    api('nova.flavors.detail', 'GET', '/flavors/detail', (req, ctx) => listFlavors(req, ctx, true)),
    api('nova.flavors.show', 'GET', '/flavors/{id}', (req, ctx) => {
      const id = req.params.id ?? '';
      const flavor = state.flavors.find((f) => f.id === id && (f.isPublic || ctx.admin));
      if (!flavor) throw novaError(404, `Flavor ${id} could not be found.`);
      return { status: 200, json: { flavor: flavorDetail(flavor, ctx.minor, baseUrl) } };
    }),
    api('nova.limits', 'GET', '/limits', quotas.limits),
    api('nova.quotas.show', 'GET', '/os-quota-sets/{project_id}', quotas.show),
    api('nova.quotas.defaults', 'GET', '/os-quota-sets/{project_id}/defaults', quotas.defaults),
    api('nova.quotas.update', 'PUT', '/os-quota-sets/{project_id}', quotas.update),
    api('nova.quotas.delete', 'DELETE', '/os-quota-sets/{project_id}', quotas.reset),
  ];

  return {
    prefix: '/compute',
    routes,
    // A miss inside the API is answered by the routes mapper behind auth_token, with webob's body.
    unmatched: (req, allowed) => {
      if (req.path.startsWith('/compute/v2.1/')) requireToken(state, req);
      return allowed.length > 0
        ? webobError(405, req.headers.accept, undefined, { allow: allowed.join(', ') })
        : webobError(404, req.headers.accept);
    },
    failed: () => novaFault(500, novaUnexpected),
    headers: (req) => ({ 'x-compute-request-id': req.requestId }),
  };
}
