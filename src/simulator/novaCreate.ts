import { novaError } from './novaFaults.js';
import { isObject, isUuidLike, novaValidationDetail, SchemaError, validate, type Schema } from './schema.js';
import type { BlockDeviceMapping, NetworkRequest } from './state.js';

// POST /servers request parsing: Nova's JSON schema for the requested microversion
// (nova/api/openstack/compute/schemas/servers.py), then the request-shape checks Nova makes
// before it looks anything up (block_device.py from_api, servers.py networks and imageRef).

const boolean: Schema = {
  type: ['boolean', 'string'],
  enum: [
    true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes',
    false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no',
  ],
};
const name: Schema = { type: 'string', minLength: 1, maxLength: 255, format: 'name' };
const uuid: Schema = { type: 'string', format: 'uuid' };
const ipAddress: Schema = { type: 'string', oneOf: [{ format: 'ipv4' }, { format: 'ipv6' }] };
const tag: Schema = { type: 'string', maxLength: 60, pattern: '^[^,/]*$' };
const positiveInteger: Schema = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1 };
const fqdn: Schema = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
const string255: Schema = { type: 'string', maxLength: 255 };

const metadata: Schema = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};

const legacyBdmProperties: Record<string, Schema> = {
  virtual_name: string255,
  volume_id: uuid,
  snapshot_id: uuid,
  volume_size: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1, maximum: 2147483647 },
  device_name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9._-r/]*$' },
  delete_on_termination: boolean,
  no_device: {},
  connection_info: { type: 'string', maxLength: 16777215 },
};

function bdmV2Schema(minor: number): Schema {
  return {
    type: 'object',
    properties: {
      ...legacyBdmProperties,
      source_type: { type: 'string', enum: ['volume', 'image', 'snapshot', 'blank'] },
      uuid: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9._-]*$' },
      image_id: uuid,
      destination_type: { type: 'string', enum: ['local', 'volume'] },
      guest_format: string255,
      device_type: string255,
      disk_bus: string255,
      boot_index: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$' },
      // 2.32 had device tags by accident, 2.33-2.41 lost them again (see Nova's schema notes).
      ...(minor === 32 || minor >= 42 ? { tag } : {}),
      ...(minor >= 67 ? { volume_type: { type: ['string', 'null'], maxLength: 255 } } : {}),
    },
    additionalProperties: false,
  };
}

function networksSchema(minor: number): Schema {
  const item = (uuidSchema: Schema, withTag: boolean): Schema => ({
    type: 'object',
    properties: {
      fixed_ip: ipAddress,
      port: { oneOf: [uuid, { type: 'null' }] },
      uuid: uuidSchema,
      ...(withTag ? { tag } : {}),
    },
    additionalProperties: false,
  });
  if (minor < 37) return { type: 'array', items: item({ type: 'string' }, minor >= 32) };
  return {
    oneOf: [
      { type: 'array', items: item(uuid, minor >= 42) },
      { type: 'string', enum: ['none', 'auto'] },
    ],
  };
}

const schedulerHints: Schema = {
  type: 'object',
  properties: {
    group: uuid,
    different_host: { oneOf: [uuid, { type: 'array', items: uuid }] },
    same_host: { type: ['string', 'array'], items: uuid },
    query: { type: ['string', 'object'] },
    target_cell: name,
    different_cell: { type: ['string', 'array'], items: { type: 'string' } },
    build_near_host_ip: ipAddress,
    cidr: { type: 'string', pattern: '^/[0-9a-f.:]+$' },
  },
  additionalProperties: true,
};

function createSchema(minor: number): Schema {
  const server: Record<string, Schema> = {
    name,
    imageRef: { oneOf: [uuid, { type: 'string', maxLength: 0 }] },
    flavorRef: { type: ['string', 'integer'], minLength: 1 },
    adminPass: { type: 'string' },
    metadata,
    networks: networksSchema(minor),
    'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
    accessIPv4: { type: 'string', format: 'ipv4' },
    accessIPv6: { type: 'string', format: 'ipv6' },
    ...(minor < 57
      ? {
          personality: {
            type: 'array',
            items: {
              type: 'object',
              properties: { path: { type: 'string' }, contents: { type: 'string', format: 'base64' } },
              additionalProperties: false,
            },
          },
        }
      : {}),
    availability_zone: name,
    block_device_mapping: { type: 'array', items: { type: 'object', properties: legacyBdmProperties, additionalProperties: false } },
    block_device_mapping_v2: { type: 'array', items: bdmV2Schema(minor) },
    config_drive: boolean,
    key_name: name,
    min_count: positiveInteger,
    max_count: positiveInteger,
    return_reservation_id: boolean,
    security_groups: {
      type: 'array',
      items: { type: 'object', properties: { name }, additionalProperties: false },
    },
    user_data: { type: 'string', format: 'base64', maxLength: 65535 },
    ...(minor >= 19 ? { description: { type: ['string', 'null'], minLength: 0, maxLength: 255 } } : {}),
    ...(minor >= 52 ? { tags: { type: 'array', items: tag, maxItems: 50 } } : {}),
    ...(minor >= 63
      ? {
          trusted_image_certificates: {
            type: ['array', 'null'],
            minItems: 1,
            maxItems: 50,
            uniqueItems: true,
            items: { type: 'string', minLength: 1 },
          },
        }
      : {}),
    ...(minor >= 74 ? { host: fqdn, hypervisor_hostname: fqdn } : {}),
    ...(minor >= 90 ? { hostname: { type: 'string', minLength: 2, maxLength: 63, pattern: '^[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]$' } } : {}),
  };
  return {
    type: 'object',
    properties: {
      server: {
        type: 'object',
        properties: server,
        required: minor >= 37 ? ['name', 'flavorRef', 'networks'] : ['name', 'flavorRef'],
        additionalProperties: false,
      },
      'os:scheduler_hints': schedulerHints,
      'OS-SCH-HNT:scheduler_hints': schedulerHints,
    },
    required: ['server'],
    additionalProperties: false,
  };
}

export interface CreateRequest {
  name: string;
  /** Undefined when left out; '' is allowed for boot from volume. */
  imageRef: string | undefined;
  flavorRef: string;
  adminPass: string | undefined;
  metadata: Record<string, string>;
  networks: 'none' | 'auto' | NetworkRequest[] | null;
  diskConfig: 'AUTO' | 'MANUAL';
  accessIPv4: string;
  accessIPv6: string;
  availabilityZone: string | undefined;
  blockDeviceMappings: BlockDeviceMapping[];
  /** Legacy block_device_mapping entries that name a volume or snapshot. */
  legacyVolumes: { volumeId?: string; snapshotId?: string }[];
  configDrive: boolean;
  keyName: string | undefined;
  minCount: number;
  maxCount: number;
  returnReservationId: boolean;
  securityGroups: string[];
  userData: string | null;
  description: string | null;
  tags: string[];
  trustedImageCertificates: string[] | null;
  host: string | undefined;
  hypervisorHostname: string | undefined;
  hostname: string | undefined;
  schedulerHints: Record<string, unknown>;
}

// oslo strutils.bool_from_string
const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && ['1', 't', 'true', 'on', 'y', 'yes'].includes(v.toLowerCase()));

const bdmFormat = (details: string) => novaError(400, `Block Device Mapping is Invalid: ${details}`);

function blockDeviceMapping(raw: Record<string, unknown>, imageRefGiven: boolean): BlockDeviceMapping {
  const sourceType = raw.source_type as BlockDeviceMapping['sourceType'] | undefined;
  const uuidValue = raw.uuid as string | undefined;
  const destinationType = raw.destination_type as BlockDeviceMapping['destinationType'] | undefined;
  const bootIndex = raw.boot_index === undefined || raw.boot_index === null ? null : Number(raw.boot_index);
  if (sourceType === 'blank' && uuidValue) throw bdmFormat('Invalid device UUID.');
  if (sourceType !== 'blank' && !uuidValue) throw bdmFormat('Missing device UUID.');
  if (sourceType === 'image' && destinationType === 'local' && !(imageRefGiven && (bootIndex ?? -1) === 0)) {
    throw bdmFormat('Mapping image to local is not supported.');
  }
  if (destinationType === 'local' && raw.volume_type) {
    throw bdmFormat('Specifying a volume_type with destination_type=local is not supported.');
  }
  if (sourceType === 'volume' && raw.volume_type) throw bdmFormat('Specifying volume type to existing volume is not supported.');
  if (sourceType === undefined) throw bdmFormat('Some required fields are missing');
  return {
    sourceType,
    destinationType: destinationType ?? (sourceType === 'image' || sourceType === 'blank' ? 'local' : 'volume'),
    uuid: uuidValue ?? null,
    bootIndex,
    volumeSize: raw.volume_size === undefined ? null : Number(raw.volume_size),
    deleteOnTermination: raw.delete_on_termination === undefined ? false : truthy(raw.delete_on_termination),
    deviceName: typeof raw.device_name === 'string' ? raw.device_name : null,
  };
}

function networkRequests(raw: unknown): CreateRequest['networks'] {
  if (raw === undefined) return null;
  if (raw === 'none' || raw === 'auto') return raw;
  return (raw as Record<string, unknown>[]).map((n) => {
    const request: NetworkRequest = {};
    if (typeof n.fixed_ip === 'string') request.fixedIp = n.fixed_ip;
    if (typeof n.tag === 'string') request.tag = n.tag;
    if (typeof n.port === 'string' && n.port !== '') {
      if (request.fixedIp !== undefined) {
        throw novaError(
          400,
          `Specified Fixed IP '${request.fixedIp}' cannot be used with port '${n.port}': the two cannot be specified together.`,
        );
      }
      request.port = n.port;
      return request;
    }
    if (typeof n.uuid !== 'string') throw novaError(400, "Bad network format: missing 'uuid'");
    // Neutron still honours Folsom's `br-<uuid>` network ids.
    if (!isUuidLike(n.uuid) && !isUuidLike(n.uuid.split('-').slice(1).join('-'))) {
      throw novaError(400, `Bad networks format: network uuid is not in proper format (${n.uuid})`);
    }
    request.uuid = n.uuid;
    return request;
  });
}

export function parseCreate(body: unknown, minor: number): CreateRequest {
  try {
    validate(createSchema(minor), body);
  } catch (error) {
    if (error instanceof SchemaError) throw novaError(400, novaValidationDetail(error, 'body'));
    throw error;
  }
  const top = body as Record<string, unknown>;
  const s = top.server as Record<string, unknown>;

  const bdmV2 = (s.block_device_mapping_v2 ?? []) as Record<string, unknown>[];
  const legacy = (s.block_device_mapping ?? []) as Record<string, unknown>[];
  if (bdmV2.length > 0 && legacy.length > 0) {
    throw novaError(400, 'Using different block_device_mapping syntaxes is not allowed.');
  }
  const imageRef = s.imageRef as string | undefined;
  const blockDeviceMappings = bdmV2.map((b) => blockDeviceMapping(b, imageRef !== undefined));
  const hasBdm = blockDeviceMappings.length > 0 || legacy.length > 0;
  if (!imageRef && !hasBdm) throw novaError(400, 'Missing imageRef attribute');

  const minCount = Number(s.min_count ?? 1);
  const maxCount = Number(s.max_count ?? minCount);
  if (minCount > maxCount) throw novaError(400, 'min_count must be <= max_count');

  const hints = top['OS-SCH-HNT:scheduler_hints'] ?? top['os:scheduler_hints'] ?? {};
  return {
    name: s.name as string,
    imageRef,
    flavorRef: String(s.flavorRef as string | number),
    adminPass: s.adminPass as string | undefined,
    metadata: (s.metadata ?? {}) as Record<string, string>,
    networks: networkRequests(s.networks),
    diskConfig: (s['OS-DCF:diskConfig'] ?? 'MANUAL') as 'AUTO' | 'MANUAL',
    accessIPv4: (s.accessIPv4 ?? '') as string,
    accessIPv6: (s.accessIPv6 ?? '') as string,
    availabilityZone: s.availability_zone as string | undefined,
    blockDeviceMappings,
    legacyVolumes: legacy.map((b) => ({ volumeId: b.volume_id as string | undefined, snapshotId: b.snapshot_id as string | undefined })),
    configDrive: truthy(s.config_drive),
    keyName: s.key_name as string | undefined,
    minCount,
    maxCount,
    returnReservationId: truthy(s.return_reservation_id),
    securityGroups: ((s.security_groups ?? [{ name: 'default' }]) as { name?: string }[]).flatMap((g) => (g.name ? [g.name] : [])),
    userData: (s.user_data ?? null) as string | null,
    description: minor >= 19 ? ((s.description ?? null) as string | null) : (s.name as string),
    tags: (s.tags ?? []) as string[],
    trustedImageCertificates: (s.trusted_image_certificates ?? null) as string[] | null,
    host: s.host as string | undefined,
    hypervisorHostname: s.hypervisor_hostname as string | undefined,
    hostname: s.hostname as string | undefined,
    schedulerHints: isObject(hints) ? hints : {},
  };
}
