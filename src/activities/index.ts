import { authenticateActivity } from './auth.js';
import type { CloudRegistry } from './cloudRegistry.js';
import { checkInput } from './input.js';
import { quickStepsActivity } from './quickSteps.js';
import { listImagesActivity, resolveImageActivity } from './images.js';
import { logNotifier, type MissingNotifier } from './notify.js';
import { reaperActivities } from './reaper.js';
import { reportActivities } from './reports.js';
import { serverActivities } from './servers.js';
import { statusWatchActivities, type StatusWatchOptions } from './statusWatch.js';
import type { WorkerRef } from '../workflows/types.js';

export interface ActivityDeps {
  clouds: CloudRegistry;
  notifier?: MissingNotifier;
  /** The config's deployment id, written on every server and the only servers the reaper judges. */
  deployment: string;
  /** Counts a server reported as undeletable (the `servers_undeletable` metric). */
  onUndeletable?: (workerName: string) => void;
  /** How long a delete may fail before it is reported; 30 minutes by default. */
  undeletableAfterMs?: number;
  /** How long a create's POST without an answer is given to show its server; 60 s by default. */
  inFlightWaitMs?: number;
  /** How long a create waits for one of its cloud's create slots before its attempt fails; 40 s by default. */
  createSlotWaitMs?: number;
  /** The fleet status watcher's run length and feed tuning (tests, the bench); its defaults when absent. */
  statusWatch?: StatusWatchOptions;
}

/** Every side effect of a lifecycle or of the reaper, built from the worker process's own dependencies. */
export function createActivities({ clouds, notifier = logNotifier, deployment, onUndeletable, undeletableAfterMs, inFlightWaitMs, createSlotWaitMs, statusWatch }: ActivityDeps) {
  const adopting = <I extends WorkerRef, O>(activity: (input: I) => Promise<O>) => adoptingWorker(clouds, activity);
  const servers = serverActivities(clouds, { deployment, notifier, recipientsOf: (workerName) => clouds.recipientsOf(workerName), onUndeletable, undeletableAfterMs, inFlightWaitMs, createSlotWaitMs });
  const reports = reportActivities(clouds, notifier);
  const watch = statusWatchActivities(clouds, statusWatch);
  const authenticate = adopting(authenticateActivity(clouds));
  const resolveImage = adopting(resolveImageActivity(clouds));
  return {
    checkInput,
    checkInputAuthenticateResolveImage: quickStepsActivity({ authenticate, resolveImage }),
    authenticate,
    resolveImage,
    listImages: adopting(listImagesActivity(clouds)),
    createServer: adopting(servers.createServer),
    createServerPromptly: adopting(servers.createServerPromptly),
    waitForActive: adopting(servers.waitForActive),
    deleteServer: adopting(servers.deleteServer),
    deleteServerPromptly: adopting(servers.deleteServerPromptly),
    notifyMissing: adopting(reports.notifyMissing),
    notifyLaunchFailed: adopting(reports.notifyLaunchFailed),
    missingDiagnostics: adopting(reports.missingDiagnostics),
    lookAtBoot: adopting(watch.lookAtBoot),
    watchCloudStatus: watch.watchCloudStatus,
    ...reaperActivities(clouds, { deployment }),
  };
}

/** A cloud activity of a worker that its CI master defined opens the sealed account first. */
function adoptingWorker<I extends WorkerRef, O>(clouds: CloudRegistry, activity: (input: I) => Promise<O>): (input: I) => Promise<O> {
  const named = {
    async [activity.name](input: I): Promise<O> {
      clouds.adopt(input);
      return activity(input);
    },
  };
  return named[activity.name]!;
}
