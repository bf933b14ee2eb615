import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { MASTER_ACTIVITIES } from '../contract/names.js';
import { PROMPT_CREATE_TIMEOUT_MS, PROMPT_DELETE_TIMEOUT_MS } from './promptTries.js';
import type { ChooseImageInput, ChosenImage } from './types.js';

type Activities = ReturnType<typeof createActivities>;

/** What a CI master serves (src/contract/names.ts MASTER_ACTIVITIES), implemented in its language. */
interface MasterActivities {
  [MASTER_ACTIVITIES.chooseImage](input: ChooseImageInput): Promise<ChosenImage>;
}

// Each group gets the timeouts and retry bounds its kind of work needs. Errors that a retry
// cannot fix (unknown image, bad request) are thrown as non-retryable by the activities.

/** A pure check in the worker process: local, so it costs the lifecycle no task round trip. */
export const inputCheck = proxyLocalActivities<Pick<Activities, 'checkInput'>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

/**
 * The quick cloud steps of the lean shapes (token check, image resolution; both cached per cloud
 * in the worker process; `checkInputAuthenticateResolveImage` does them with the input check in one go): local, so
 * they add a marker to history instead of an activity task and a workflow task. The same bounded
 * tries as `cloudCalls`; a try that outlasts the workflow task is carried on by Temporal's task
 * heartbeat, a long backoff by a timer.
 */
export const localCloudCalls = proxyLocalActivities<Pick<Activities, 'authenticate' | 'resolveImage' | 'checkInputAuthenticateResolveImage'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 6 },
});

/** Short REST calls: a bounded number of tries with capped backoff. */
export const cloudCalls = proxyActivities<Pick<Activities, 'authenticate' | 'resolveImage' | 'createServer'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 6 },
});

/** The lifecycle's account lists what it sees, for a master that chooses the image itself. */
export const imageListing = proxyActivities<Pick<Activities, 'listImages'>>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 6 },
});

/**
 * Served by the CI master on a task queue of its own: a master that is down or restarting is
 * waited for at most scheduleToClose; a callable that raises fails at once (non-retryable).
 */
export function masterCalls(taskQueue: string) {
  return proxyActivities<MasterActivities>({
    taskQueue,
    scheduleToCloseTimeout: '10 minutes',
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
  });
}

/**
 * Polls until ACTIVE against a deadline fixed by the workflow, so a retry after a worker crash
 * does not extend boot_timeout. Heartbeats let a crash be noticed within the heartbeat timeout.
 */
export const waiting = proxyActivities<Pick<Activities, 'waitForActive'>>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

// SMTP's own timeouts apply per phase (connect, greeting, each command): leave room for a slow server.
export const notifications = proxyActivities<Pick<Activities, 'notifyMissing' | 'notifyLaunchFailed'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** A look at a server before it is deleted, for a report: quick, and never worth holding the delete up for long. */
export const diagnosis = proxyActivities<Pick<Activities, 'missingDiagnostics'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 2 },
});

/**
 * The first launch's create, tried in the run's first workflow task (prompt-create shape): a
 * marker in history instead of an activity task and the workflow task after it. One try, ended by
 * its own budget inside the task; whatever ends it short hands the create to `cloudCalls`.
 */
export const promptCreation = proxyLocalActivities<Pick<Activities, 'createServerPromptly'>>({
  startToCloseTimeout: PROMPT_CREATE_TIMEOUT_MS,
  retry: { maximumAttempts: 1 },
});

/**
 * The delete's first try, in the workflow task that decides it (prompt-delete shape): a marker in
 * history instead of an activity task and the workflow task after it. One try, bounded inside the
 * task's timeout (PROMPT_DELETE_WAIT_MS); whatever ends it short hands the delete to `deletion`.
 */
export const promptDeletion = proxyLocalActivities<Pick<Activities, 'deleteServerPromptly'>>({
  startToCloseTimeout: PROMPT_DELETE_TIMEOUT_MS,
  retry: { maximumAttempts: 1 },
});

/** A server we own must go, however long the cloud takes: retried without limit, backoff capped. */
export const deletion = proxyActivities<Pick<Activities, 'deleteServer'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** The reaper's look-ups: a broken cloud or Temporal fails this run only; the next scheduled run tries again. */
export const reaperCalls = proxyActivities<Pick<Activities, 'reaperTargets' | 'listDeploymentServers' | 'describeOwners'>>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/**
 * The lifecycle's delete-until-gone, bounded here: an orphan that will not go is reported, and the
 * next scheduled run (never overlapping this one) tries again, instead of one run holding them all.
 */
export const reaperDeletion = proxyActivities<Pick<Activities, 'deleteServer'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});
