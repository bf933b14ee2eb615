// Names shared by the status watcher's workflow, its activity and the worker processes that keep
// it running: plain constants, importable on both sides of the workflow sandbox.

export const STATUS_WATCHER_WORKFLOW_TYPE = 'cloudStatusWatcher';

/** The watcher tells a lifecycle its server finished booting. */
export const SERVER_STATUS_SIGNAL = 'server-status';

/** A worker process asks for the watcher (and starts it, if it is not running). */
export const KEEP_WATCHING_SIGNAL = 'keep-watching';

/**
 * One watcher per deployment, task queue and cloud (auth URL, project, region; never a
 * credential): every worker process of the fleet names the same one, so starting it is idempotent.
 */
export function statusWatcherId(deployment: string, taskQueue: string, cloud: string): string {
  return `latent-worker-status-watcher:${deployment}:${taskQueue}:${cloud}`;
}
