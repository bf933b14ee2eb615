// The names a CI master in any language needs to drive lifecycles with its own Temporal SDK.

/** Task queue the worker process polls, unless LATENT_WORKER_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'openstack-latent-worker';

export const LIFECYCLE_WORKFLOW_TYPE = 'latentWorkerLifecycle';

export const SIGNALS = { attached: 'attached', buildStarted: 'build-started', buildFinished: 'build-finished', release: 'release' } as const;
export const QUERIES = { status: 'status' } as const;

/** One live lifecycle per worker name: a second substantiate of the same name joins it. */
export function workflowIdFor(workerName: string): string {
  return `latent-worker:${workerName}`;
}
