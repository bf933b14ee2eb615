import { authenticateActivity } from './auth.js';
import type { CloudRegistry } from './cloudRegistry.js';
import { resolveImageActivity } from './images.js';
import { logNotifier, type MissingNotifier } from './notify.js';
import { reportActivities } from './reports.js';
import { serverActivities } from './servers.js';

export interface ActivityDeps {
  clouds: CloudRegistry;
  notifier?: MissingNotifier;
  /** How often a booting or deleting server is polled; default 1 s. */
  pollIntervalMs?: number;
}

/** Every side effect a lifecycle has, built from the worker process's own dependencies. */
export function createActivities({ clouds, notifier = logNotifier, pollIntervalMs = 1000 }: ActivityDeps) {
  return {
    authenticate: authenticateActivity(clouds),
    resolveImage: resolveImageActivity(clouds),
    ...serverActivities(clouds, { pollIntervalMs }),
    ...reportActivities(clouds, notifier),
  };
}
