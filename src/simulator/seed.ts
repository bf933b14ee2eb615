// Default data of the simulated cloud. Ids are fixed so that documents, configs and tests can
// name them; the Buildbot seed document's examples (image 8ac9d4a4-..., flavor 1, user `user` in
// tenant `tenant`) must run against the defaults verbatim.

export interface SimUser {
  name: string;
  password: string;
  /** Name of the user's project; the user gets `roles` on it and on nothing else. */
  project: string;
  /** Keystone ids are uuid hex without dashes; generated when left out. */
  id?: string;
  projectId?: string;
  /** Domain name of both user and project. Default: `Default` (id `default`). */
  domain?: string;
  /** Default: member, reader. `admin` also unlocks Nova's admin-only server fields. */
  roles?: string[];
  /** Nova key pair names owned by this user (key pairs are per user in Nova). */
  keypairs?: string[];
  /** Keystone application credentials of this user, for its project and roles. */
  applicationCredentials?: { id?: string; name: string; secret: string }[];
}

export interface SimFlavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  ephemeral?: number;
  swap?: number;
  rxtxFactor?: number;
  isPublic?: boolean;
  disabled?: boolean;
  description?: string | null;
  extraSpecs?: Record<string, string>;
}

export type GlanceStatus =
  | 'queued'
  | 'saving'
  | 'active'
  | 'killed'
  | 'deleted'
  | 'pending_delete'
  | 'deactivated'
  | 'uploading'
  | 'importing';
export type GlanceVisibility = 'public' | 'private' | 'shared' | 'community';

export interface SimImage {
  id: string;
  name: string | null;
  /** ISO 8601; Glance stores whole seconds. */
  createdAt: string;
  updatedAt?: string;
  status?: GlanceStatus;
  visibility?: GlanceVisibility;
  /** Owning project id. Default: the `admin` project of the default users. */
  owner?: string | null;
  size?: number | null;
  virtualSize?: number | null;
  minDisk?: number;
  minRam?: number;
  diskFormat?: string | null;
  containerFormat?: string | null;
  protected?: boolean;
  hidden?: boolean;
  tags?: string[];
  /** Custom image properties; Glance v2 shows them flat next to the base fields. */
  properties?: Record<string, string>;
}

export interface SimNetwork {
  id: string;
  name: string;
  /** First three octets of the fixed IPv4 subnet (a /24). */
  cidrPrefix: string;
}

/** A Cinder volume (served only when the simulator runs with `blockStorage`). */
export interface SimVolume {
  id: string;
  name: string | null;
  /** GiB. */
  size: number;
  /** Owning project id. Default: the `admin` project of the default users. */
  projectId?: string;
  status?: 'available' | 'in-use' | 'error';
  bootable?: boolean;
  volumeType?: string;
}

export interface SimSnapshot {
  id: string;
  name: string | null;
  /** GiB: that of its volume. */
  size: number;
  volumeId: string;
  projectId?: string;
  status?: 'available' | 'error';
}

export const defaultDomain = { id: 'default', name: 'Default' } as const;
export const region = 'RegionOne';
export const computeHost = 'fakecompute';
export const availabilityZone = 'nova';

export const projectIds = {
  admin: '90aa021f2b7c47e5bb5382d325854052',
  demo: '3c1f0e7a9d2b4c5e8f6a7b9c0d1e2f3a',
  tenant: 'b0a6c2e48d1f4e7a9c3b5d7e9f1a2c4e',
} as const;

export const defaultUsers: readonly SimUser[] = [
  {
    name: 'admin',
    password: 'admin',
    project: 'admin',
    id: '6d667f8b5bb34a048e09ad753bcce5e8',
    projectId: projectIds.admin,
    roles: ['admin', 'member', 'reader'],
    keypairs: ['buildbot'],
  },
  {
    name: 'demo',
    password: 'demo',
    project: 'demo',
    id: 'a41bde1f3c7e4d0b9a2f5c8e7d6b4a31',
    projectId: projectIds.demo,
    roles: ['member', 'reader'],
    keypairs: ['buildbot'],
  },
  {
    name: 'user',
    password: 'password',
    project: 'tenant',
    id: 'e7c94a2b1d3f4b6a8c0e2d4f6a8b0c1d',
    projectId: projectIds.tenant,
    roles: ['member', 'reader'],
    keypairs: ['buildbot'],
  },
];

export const defaultFlavors: readonly SimFlavor[] = [
  { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
  { id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
  { id: 'tiny', name: 'tiny', ram: 64, vcpus: 1, disk: 1 },
];

const workerImage = (id: string, name: string, createdAt: string, osVersion: string): SimImage => ({
  id,
  name,
  createdAt,
  size: 1_073_807_360,
  virtualSize: 10_737_418_240,
  minDisk: 1,
  diskFormat: 'qcow2',
  containerFormat: 'bare',
  tags: ['buildbot-worker'],
  properties: { os_distro: 'debian', os_version: osVersion, hw_disk_bus: 'virtio' },
});

// Three worker images of one naming pattern, oldest to newest, so "pick the oldest/newest image
// named buildbot-worker-*" is testable; `tiny` mirrors the real test cloud's image.
export const defaultImages: readonly SimImage[] = [
  workerImage('5b1e6a2e-4c1f-4c47-9d0e-2a7c3f6b9e10', 'buildbot-worker-bullseye', '2024-08-20T10:00:00Z', '11'),
  workerImage('8ac9d4a4-5e03-48b0-acde-77a0345a9ab1', 'buildbot-worker-bookworm', '2025-06-02T10:00:00Z', '12'),
  workerImage('3f0b8868-67e7-4a5b-b685-2824709bd486', 'buildbot-worker-trixie', '2025-09-15T10:00:00Z', '13'),
  {
    id: '31c4ec89-adc0-4dde-928d-b5f5552e4901',
    name: 'tiny',
    createdAt: '2025-10-01T08:00:00Z',
    size: 196_616,
    virtualSize: 1_073_741_824,
    diskFormat: 'qcow2',
    containerFormat: 'bare',
  },
];

// Not part of SimulatorOptions: a single network is what "networks: auto" and omitted networks
// (below microversion 2.37) attach to, and what explicit `{"uuid": ...}` requests must name.
export const defaultNetworks: readonly SimNetwork[] = [
  { id: 'c3a1f9e2-7b4d-4e8a-9f1c-2d5e6a7b8c90', name: 'private', cidrPrefix: '10.0.0' },
];
