// The names that cross a process or language boundary: a CI master in any language needs them to
// drive lifecycles with its own Temporal SDK. Workflow code imports this file too, so it holds
// plain constants only (no I/O, no Node built-ins). The Python adapter's contract module is
// generated from it (`npm run contract`; test/contract.test.ts fails on any drift).

/** Task queue the worker process polls, unless LATENT_WORKER_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'openstack-latent-worker';

export const LIFECYCLE_WORKFLOW_TYPE = 'latentWorkerLifecycle';

export const SIGNALS = { attached: 'attached', buildStarted: 'build-started', buildFinished: 'build-finished', release: 'release' } as const;
export const QUERIES = { status: 'status' } as const;

/** Keyword search attributes the Web UI finds lifecycles by; never encrypted, so never secret. */
export const SEARCH_ATTRIBUTES = {
  workerName: 'LatentWorkerName',
  phase: 'LatentWorkerPhase',
  serverId: 'LatentWorkerServerId',
  cloud: 'LatentWorkerCloud',
  outcome: 'LatentWorkerOutcome',
  deployment: 'LatentWorkerDeployment',
} as const;

/** The phases of a lifecycle, in the order it moves through them. */
export const PHASES = ['starting', 'authenticating', 'resolving-image', 'creating', 'booting', 'waiting-for-attach', 'attached', 'deleting', 'done'] as const;

/** How a lifecycle ended: released by the master, never attached, failed, or cancelled. */
export const OUTCOMES = ['released', 'missing', 'failed', 'cancelled'] as const;

/** Why a lifecycle in `released` ended: the master said so, or it sat idle past build_wait_timeout. */
export const RELEASE_REASONS = ['master', 'idle'] as const;

/**
 * The `type` of the failures a lifecycle ends with (Temporal ApplicationFailure types) and of the
 * launch failures it retries. Errors from the cloud itself are typed `OpenStack<Kind>` (e.g.
 * OpenStackQuotaExceeded, see src/openstack/errors.ts).
 */
export const FAILURE_TYPES = {
  invalidInput: 'InvalidInput',
  launchFailed: 'LaunchFailed',
  noCapacity: 'NoCapacity',
  imageNotFound: 'ImageNotFound',
  imageNotActive: 'ImageNotActive',
  imageFunctionFailed: 'ImageFunctionFailed',
  serverError: 'ServerError',
  bootTimeout: 'BootTimeout',
  serverVanished: 'ServerVanished',
  serverQuotaExceeded: 'ServerQuotaExceeded',
  openStackQuotaExceeded: 'OpenStackQuotaExceeded',
  blockDeviceSourceNotFound: 'BlockDeviceSourceNotFound',
  createSlotTimeout: 'CreateSlotTimeout',
} as const;

/**
 * Activities a CI master serves itself, on a task queue of its own that the input names (e.g.
 * Buildbot's image callable, which runs in the master).
 */
export const MASTER_ACTIVITIES = { chooseImage: 'chooseImage' } as const;

/** The task queue a master serves chooseImage on for one worker, unless it names another. */
export function imageTaskQueueFor(workerName: string): string {
  return `latent-worker-images:${workerName}`;
}

/** Where the lifecycle input's JSON Schema is committed, relative to the project root. */
export const INPUT_SCHEMA_FILE = 'contract/lifecycle-input.schema.json';

/** Workflow ids are this prefix and the worker name. */
export const WORKFLOW_ID_PREFIX = 'latent-worker:';

/** One live lifecycle per worker name: a second substantiate of the same name joins it. */
export function workflowIdFor(workerName: string): string {
  return `${WORKFLOW_ID_PREFIX}${workerName}`;
}
