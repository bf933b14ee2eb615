import type { OUTCOMES, PHASES, RELEASE_REASONS } from '../contract/names.js';

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
export type ImageSpec = string | ImageSelector | { resolver: 'function' } | MasterImageChoice;

/**
 * The image is chosen by the CI master (Buildbot's Python callable): the lifecycle lists every
 * image the account sees, and the master's `chooseImage` activity, served on `taskQueue`, picks
 * one. The choice is recorded in history, so a replay or a crash does not ask again.
 */
export interface MasterImageChoice {
  resolver: 'master';
  taskQueue: string;
  /** The callable's name, for messages. */
  callable: string;
}

export function isMasterChoice(image: ImageSpec): image is MasterImageChoice {
  return typeof image === 'object' && 'resolver' in image && image.resolver === 'master';
}

/** What the master's chooseImage activity is given and answers. */
export interface ChooseImageInput {
  workerName: string;
  /** Every image the account sees (all pages), as Glance describes them. */
  images: Record<string, unknown>[];
}
export interface ChosenImage {
  id: string;
  name?: string | null;
}

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
  /**
   * The account arguments of a worker defined in its CI master (os_*, region, cloud), sealed for
   * the worker fleet (src/config/sealing.ts): a worker process opens them in the activities that
   * talk to the cloud, and needs no definition of its own for this worker. Absent for workers the
   * fleet defines. Never plaintext: history, the Web UI and its codec server see only the seal.
   */
  sealedCredentials?: string;
}

/** Which worker an activity works for, and, for a master-defined one, its sealed account. */
export interface WorkerRef {
  workerName: string;
  sealedCredentials?: string;
}

export interface LifecycleInput {
  spec: WorkerSpec;
  /** Build properties from the CI master, kept for the record and for later rendering. */
  properties: Record<string, string>;
  /**
   * Set only by the lifecycle itself when it continues as new (a master never sends it): where
   * the previous run stopped, so this run serves the same server on.
   */
  continued?: ContinuedLifecycle;
}

/** What a run of an attached lifecycle hands to the next one, history left behind. */
export interface ContinuedLifecycle {
  status: LifecycleStatus;
  /** When the worker last went idle (ISO), so build_wait_timeout counts across the hand-over. */
  idleSince?: string;
  /** When the current phase began (ISO), so its duration is measured across runs. */
  phaseEnteredAt: string;
}

/** The phases in order (src/contract/names.ts). */
export type Phase = (typeof PHASES)[number];

/** How a lifecycle ended: released by the master, never attached, failed, or cancelled. */
export type Outcome = (typeof OUTCOMES)[number];

/** Why a lifecycle in `released` ended: the master said so, or it sat idle past build_wait_timeout. */
export type ReleaseReason = (typeof RELEASE_REASONS)[number];

export interface LifecycleStatus {
  workerName: string;
  phase: Phase;
  outcome?: Outcome;
  releaseReason?: ReleaseReason;
  serverId?: string;
  serverName?: string;
  imageId?: string;
  error?: string;
  /** Why the missing-worker report could not be sent (the outcome stays `missing`). */
  notificationError?: string;
  /** Launches so far (failed ones included); each failed launch's reason, in order. */
  launches?: number;
  launchFailures?: string[];
  buildsRunning?: number;
  buildsFinished?: number;
  /** Runs this lifecycle has spanned: it continues as new before its history grows large. */
  runs?: number;
  /** ISO timestamps of each milestone, from workflow time. */
  startedAt: string;
  activeAt?: string;
  attachedAt?: string;
  releasedAt?: string;
  deletedAt?: string;
  /**
   * How the (last) delete went, when it was not plain: how many tries it took, whether it was
   * reported as stuck, and anything unusual (e.g. the worker's definition was gone).
   */
  deletion?: { attempts: number; undeletableReportedAt?: string; note?: string };
}

export interface LifecycleResult {
  outcome: Outcome;
  serverId?: string;
  status: LifecycleStatus;
}
