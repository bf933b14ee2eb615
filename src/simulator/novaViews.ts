import { createHash } from 'node:crypto';
import { type FlavorRecord, type ServerRecord, statusOf } from './state.js';

// Response bodies of Nova's view builders (nova/api/openstack/compute/views/), per
// microversion. Admin-only fields follow Zed's default policy.

export interface ViewContext {
  minor: number;
  admin: boolean;
  baseUrl: string;
  flavor: (id: string) => FlavorRecord | undefined;
}

/** Nova's isotime(): whole seconds, `Z`. */
const novaTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
/** launched_at/terminated_at come straight from the DB column: microseconds, no zone. */
const dbTime = (d: Date | null): string | null => (d ? d.toISOString().replace(/\.\d{3}Z$/, '.000000') : null);

export function links(baseUrl: string, collection: string, id: string) {
  return [
    { rel: 'self', href: `${baseUrl}/compute/v2.1/${collection}/${id}` },
    { rel: 'bookmark', href: `${baseUrl}/compute/${collection}/${id}` },
  ];
}

const bookmark = (baseUrl: string, collection: string, id: string) => [
  { rel: 'bookmark', href: `${baseUrl}/compute/${collection}/${id}` },
];

export function serverSummary(server: ServerRecord, baseUrl: string) {
  return { id: server.id, name: server.name, links: links(baseUrl, 'servers', server.id) };
}

function flavorOfServer(server: ServerRecord, ctx: ViewContext) {
  if (ctx.minor < 47) return { id: server.flavorId, links: bookmark(ctx.baseUrl, 'flavors', server.flavorId) };
  const f = ctx.flavor(server.flavorId);
  return {
    vcpus: f?.vcpus ?? 0,
    ram: f?.ram ?? 0,
    disk: f?.disk ?? 0,
    ephemeral: f?.ephemeral ?? 0,
    swap: f?.swap ?? 0,
    original_name: f?.name ?? server.flavorId,
    extra_specs: { ...f?.extraSpecs },
  };
}

function addresses(server: ServerRecord) {
  const byNetwork: Record<string, unknown[]> = {};
  for (const a of server.addresses) {
    (byNetwork[a.network] ??= []).push({ version: 4, addr: a.addr, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': a.mac });
  }
  return byNetwork;
}

export function serverDetail(server: ServerRecord, ctx: ViewContext): Record<string, unknown> {
  const { minor, admin, baseUrl } = ctx;
  const status = statusOf(server);
  const view: Record<string, unknown> = {
    id: server.id,
    name: server.name,
    status,
    tenant_id: server.projectId,
    user_id: server.userId,
    metadata: { ...server.metadata },
    hostId: server.host ? createHash('sha224').update(server.projectId + server.host).digest('hex') : '',
    image: server.imageId ? { id: server.imageId, links: bookmark(baseUrl, 'images', server.imageId) } : '',
    flavor: flavorOfServer(server, ctx),
    created: novaTime(server.createdAt),
    updated: novaTime(server.updatedAt),
    addresses: addresses(server),
    accessIPv4: server.accessIPv4,
    accessIPv6: server.accessIPv6,
    links: links(baseUrl, 'servers', server.id),
    'OS-DCF:diskConfig': server.diskConfig,
  };
  if (status === 'ACTIVE' || status === 'BUILD') view.progress = 0;
  if ((status === 'ERROR' || status === 'DELETED') && server.fault) {
    const { code, message, details, created } = server.fault;
    // Tracebacks of internal errors are for admins only.
    view.fault = { code, created: novaTime(created), message, ...(details && (admin || code !== 500) ? { details } : {}) };
  }
  Object.assign(view, {
    'OS-EXT-AZ:availability_zone': server.availabilityZone,
    config_drive: server.configDrive ? 'True' : '',
    key_name: server.keyName,
    'OS-SRV-USG:launched_at': dbTime(server.launchedAt),
    'OS-SRV-USG:terminated_at': dbTime(server.deletedAt),
  });
  if (admin) {
    Object.assign(view, {
      'OS-EXT-SRV-ATTR:host': server.host,
      'OS-EXT-SRV-ATTR:instance_name': server.instanceName,
      'OS-EXT-SRV-ATTR:hypervisor_hostname': server.host,
    });
    if (minor >= 3) {
      Object.assign(view, {
        'OS-EXT-SRV-ATTR:reservation_id': server.reservationId,
        'OS-EXT-SRV-ATTR:launch_index': server.launchIndex,
        'OS-EXT-SRV-ATTR:hostname': server.hostname,
        'OS-EXT-SRV-ATTR:kernel_id': '',
        'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:root_device_name': server.launchedAt ? '/dev/sda' : null,
        'OS-EXT-SRV-ATTR:user_data': server.userData,
      });
    }
  } else if (minor >= 90) {
    // 2.90 made the hostname settable, and visible to its owner.
    view['OS-EXT-SRV-ATTR:hostname'] = server.hostname;
  }
  Object.assign(view, {
    'OS-EXT-STS:task_state': server.taskState,
    'OS-EXT-STS:vm_state': server.vmState,
    'OS-EXT-STS:power_state': server.powerState,
    'os-extended-volumes:volumes_attached': [],
  });
  if (minor >= 16 && admin) view.host_status = server.host ? 'UP' : '';
  if (minor >= 9) view.locked = false;
  if (minor >= 73) view.locked_reason = null;
  if (minor >= 19) view.description = server.description;
  if (minor >= 26) view.tags = [...server.tags];
  if (minor >= 63) view.trusted_image_certificates = server.trustedImageCertificates;
  if (minor >= 71) view.server_groups = [];
  // Security groups come from the server's Neutron ports; a server without ports has none to show.
  if (server.addresses.length > 0) view.security_groups = server.securityGroups.map((name) => ({ name }));
  return view;
}

export function flavorSummary(f: FlavorRecord, minor: number, baseUrl: string) {
  return {
    id: f.id,
    name: f.name,
    links: links(baseUrl, 'flavors', f.id),
    ...(minor >= 55 ? { description: f.description } : {}),
  };
}

export function flavorDetail(f: FlavorRecord, minor: number, baseUrl: string) {
  return {
    id: f.id,
    name: f.name,
    ram: f.ram,
    disk: f.disk,
    // Before 2.75 a zero swap is shown as an empty string.
    swap: minor >= 75 ? f.swap : f.swap || '',
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
    'OS-FLV-DISABLED:disabled': f.disabled,
    vcpus: f.vcpus,
    'os-flavor-access:is_public': f.isPublic,
    rxtx_factor: f.rxtxFactor,
    links: links(baseUrl, 'flavors', f.id),
    ...(minor >= 55 ? { description: f.description } : {}),
    ...(minor >= 61 ? { extra_specs: { ...f.extraSpecs } } : {}),
  };
}
