import { authenticateActivity } from './auth.js';
import type { CloudRegistry } from './cloudRegistry.js';
import { checkInput } from './input.js';
import { resolveImageActivity } from './images.js';
import { logNotifier, type MissingNotifier } from './notify.js';
import { reaperActivities } from './reaper.js';
import { reportActivities } from './reports.js';
import { serverActivities } from './servers.js';

export interface ActivityDeps {
  clouds: CloudRegistry;
  notifier?: MissingNotifier;
  /** The config's deployment id, written on every server and the only servers the reaper judges. */
  deployment: string;
}

/** Every side effect of a lifecycle or of the reaper, built from the worker process's own dependencies. */
export function createActivities({ clouds, notifier = logNotifier, deployment }: ActivityDeps) {
  return {
    checkInput,
    authenticate: authenticateActivity(clouds),
    resolveImage: resolveImageActivity(clouds),
    ...serverActivities(clouds, { deployment }),
    ...reportActivities(clouds, notifier),
    ...reaperActivities(clouds, { deployment }),
  };
}
