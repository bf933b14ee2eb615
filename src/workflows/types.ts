// Data that crosses the workflow boundary. Everything here is written to workflow history, so it
// holds no password, token or other credential: activities look those up in the worker process.

/** Picks one image among those the project can see, instead of naming it. */
export interface ImageSelector {
  /** A regular expression the image name must match. */
  name?: string;
  tags?: string[];
  /** Image properties that must have exactly these values. */
  properties?: Record<string, string>;
  visibility?: 'public' | 'private' | 'shared' | 'community';
  /** Which match wins, by `created_at`. */
  pick: 'newest' | 'oldest';
}

/**
 * How the image is chosen: a UUID or exact name, a selector, or a function registered for this
 * worker in the worker process (Buildbot's "callable"; functions cannot travel in history).
 */
export type ImageSpec = string | ImageSelector | { resolver: 'function' };

/** One entry of the seed's `block_devices`, defaults applied. */
export interface BlockDeviceSpec {
  uuid: string;
  /** GiB; when absent it is derived from the image, volume or snapshot size. */
  volumeSize?: number;
  deviceName: string;
  sourceType: 'image' | 'snapshot' | 'volume';
  destinationType: 'volume' | 'local';
  deleteOnTermination: boolean;
  bootIndex: number;
}

/** The non-secret, rendered part of a worker definition that a lifecycle works from. */
export interface WorkerSpec {
  name: string;
  /** Names the cloud in the Web UI (auth URL and project), never credentials. */
  cloud: string;
  /** A flavor id or name. */
  flavor: string;
  /** Absent when the server boots from `blockDevices` alone. */
  image?: ImageSpec;
  blockDevices?: BlockDeviceSpec[];
  meta: Record<string, string>;
  /** Extra server-create arguments, novaclient style (`nics`, `availability_zone`, ...). */
  novaArgs?: Record<string, unknown>;
  /** Compute API version: '1.1' and '2' mean the base API, '2.N' a microversion. */
  clientVersion: string;
  missingTimeoutSeconds: number;
  bootTimeoutSeconds: number;
  /** Idle seconds before the worker is released: 0 after each build, negative never. */
  buildWaitTimeoutSeconds?: number;
  launchAttempts?: number;
  notifyOnMissing: string[];
}

export interface LifecycleInput {
  spec: WorkerSpec;
  /** Build properties from the CI master, kept for the record and for later rendering. */
  properties: Record<string, string>;
}

export type Phase =
  | 'starting'
  | 'authenticating'
  | 'resolving-image'
  | 'creating'
  | 'booting'
  | 'waiting-for-attach'
  | 'attached'
  | 'deleting'
  | 'done';

/** How a lifecycle ended: released by the master, never attached, failed, or cancelled. */
export type Outcome = 'released' | 'missing' | 'failed' | 'cancelled';

/** Why a lifecycle in `released` ended: the master said so, or it sat idle past build_wait_timeout. */
export type ReleaseReason = 'master' | 'idle';

export interface LifecycleStatus {
  workerName: string;
  phase: Phase;
  outcome?: Outcome;
  releaseReason?: ReleaseReason;
  serverId?: string;
  serverName?: string;
  imageId?: string;
  error?: string;
  /** Launches so far (failed ones included); each failed launch's reason, in order. */
  launches?: number;
  launchFailures?: string[];
  buildsRunning?: number;
  buildsFinished?: number;
  /** ISO timestamps of each milestone, from workflow time. */
  startedAt: string;
  activeAt?: string;
  attachedAt?: string;
  releasedAt?: string;
  deletedAt?: string;
}

export interface LifecycleResult {
  outcome: Outcome;
  serverId?: string;
  status: LifecycleStatus;
}
