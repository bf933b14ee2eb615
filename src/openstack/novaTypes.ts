import type { CallOptions } from './keystone.js';

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
  /**
   * Required from microversion 2.37 on. Networks named in a worker definition (`net-name`) are
   * resolved to a `uuid` first, with `NetworkApi.findNetworkByName`.
   */
  networks?: ServerNetworks;
  metadata?: Record<string, string>;
  /** Microversion 2.52 and later; refused before sending otherwise. */
  tags?: string[];
  block_device_mapping_v2?: BlockDeviceMapping[];
  key_name?: string;
  /**
   * Base64, as Nova wants it. Text that is not valid base64 (a script, a `#cloud-config`) is
   * encoded before sending; text that is valid base64 is taken as already encoded.
   */
  user_data?: string;
  availability_zone?: string;
  security_groups?: { name: string }[];
  config_drive?: boolean;
  description?: string;
  [novaArg: string]: unknown;
}

export interface CreateServerOptions extends CallOptions {
  /** Sent as the top-level `os:scheduler_hints` (Nova also reads `OS-SCH-HNT:scheduler_hints`). */
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
  /**
   * Servers carrying all of these tags. Needs microversion 2.26: older ones ignore the filter and
   * list every server, so the client refuses it before sending.
   */
  tags?: readonly string[];
  /** Servers carrying any of these tags (microversion 2.26 and later, as `tags`). */
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

export interface NegotiatedMicroversion {
  /** What the client sends: undefined for the base API with no version header. */
  requested: string | undefined;
  /** What the cloud serves for it: `latest` resolved to the cloud's maximum. */
  effective: string;
  minVersion: string;
  maxVersion: string;
}

/**
 * `GET /limits` absolute limits; -1 means unlimited. The `total*Used` values are the project's
 * current usage (Nova has sent them since the used-limits extension became standard).
 */
export interface AbsoluteLimits {
  maxTotalInstances?: number;
  totalInstancesUsed?: number;
  maxTotalCores?: number;
  totalCoresUsed?: number;
  /** MiB. */
  maxTotalRAMSize?: number;
  totalRAMUsed?: number;
  maxServerMeta?: number;
  maxTotalKeypairs?: number;
  [limit: string]: number | undefined;
}

export interface ComputeLimits {
  absolute: AbsoluteLimits;
}

export interface ConsoleOutputOptions extends CallOptions {
  /** The last N lines only; all of it when left out. */
  length?: number;
}
