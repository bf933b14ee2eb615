import type { BlockDeviceMapping, ServerCreate, ServerNetworks } from '../openstack/index.js';
import type { BlockDeviceSpec } from '../workflows/types.js';

// Turns a worker's rendered definition into Nova's server-create body, the way novaclient turned
// Buildbot's arguments into one: `nova_args` keys are novaclient's keyword arguments.

/** A `nics` entry with its network name already looked up. */
export interface ResolvedNic {
  'net-id'?: string;
  'port-id'?: string;
  'v4-fixed-ip'?: string;
  'v6-fixed-ip'?: string;
  tag?: string;
}

export interface ServerRequestParts {
  name: string;
  imageId?: string;
  flavorId: string;
  /** Block devices with every volume size known. */
  blockDevices?: BlockDeviceSpec[];
  metadata: Record<string, string>;
  novaArgs: Record<string, unknown>;
  nics?: 'none' | 'auto' | ResolvedNic[];
}

export interface ServerRequest {
  server: ServerCreate;
  schedulerHints?: Record<string, unknown>;
}

/** nova_args keys that novaclient renames or reshapes; the rest go to Nova as they are. */
const TRANSLATED = new Set(['nics', 'security_groups', 'userdata', 'scheduler_hints']);

export function buildServerRequest(parts: ServerRequestParts): ServerRequest {
  const passedThrough = Object.fromEntries(Object.entries(parts.novaArgs).filter(([key]) => !TRANSLATED.has(key)));
  const bootsFromDevice = parts.blockDevices?.some((device) => device.bootIndex === 0) ?? false;
  const server: ServerCreate = {
    ...passedThrough,
    name: parts.name,
    flavorRef: parts.flavorId,
    // Booting from a block device needs no imageRef (Nova: "not required in case of boot from volume").
    ...(parts.imageId && !bootsFromDevice ? { imageRef: parts.imageId } : {}),
    metadata: parts.metadata,
  };
  if (parts.blockDevices) server.block_device_mapping_v2 = parts.blockDevices.map(toMapping);
  if (parts.nics !== undefined) server.networks = toNetworks(parts.nics);
  const args = parts.novaArgs;
  if (Array.isArray(args.security_groups)) server.security_groups = (args.security_groups as string[]).map((name) => ({ name }));
  if (typeof args.userdata === 'string') server.user_data = args.userdata;
  const schedulerHints = args.scheduler_hints as Record<string, unknown> | undefined;
  return schedulerHints ? { server, schedulerHints } : { server };
}

function toMapping(device: BlockDeviceSpec): BlockDeviceMapping {
  return {
    uuid: device.uuid,
    source_type: device.sourceType,
    destination_type: device.destinationType,
    device_name: device.deviceName,
    boot_index: device.bootIndex,
    delete_on_termination: device.deleteOnTermination,
    ...(device.destinationType === 'volume' && device.volumeSize !== undefined ? { volume_size: device.volumeSize } : {}),
  };
}

function toNetworks(nics: 'none' | 'auto' | ResolvedNic[]): ServerNetworks {
  if (typeof nics === 'string') return nics;
  return nics.map((nic) => ({
    ...(nic['net-id'] ? { uuid: nic['net-id'] } : {}),
    ...(nic['port-id'] ? { port: nic['port-id'] } : {}),
    ...(nic['v4-fixed-ip'] || nic['v6-fixed-ip'] ? { fixed_ip: nic['v4-fixed-ip'] ?? nic['v6-fixed-ip'] } : {}),
    ...(nic.tag ? { tag: nic.tag } : {}),
  }));
}
