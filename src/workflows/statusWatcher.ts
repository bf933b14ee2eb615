import { continueAsNew, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { KEEP_WATCHING_SIGNAL } from './statusWatchNames.js';

type Activities = ReturnType<typeof createActivities>;

export interface StatusWatcherInput {
  /** The cloud as worker processes name it (auth URL, project, region): never a credential. */
  cloud: string;
  deployment: string;
  /** Where the previous run's watch stopped (the cloud's clock); absent for the first run. */
  cursor?: string;
  /** When a worker process last asked for this watcher (workflow time, ISO), carried across runs. */
  askedAt?: string;
}

export const keepWatchingSignal = defineSignal(KEEP_WATCHING_SIGNAL);

/**
 * A watcher that no worker process has asked for in this long ends at the close of its run, rather
 * than continue: every process asks every few minutes (src/worker/statusWatchers.ts), so this
 * only happens once no process of the fleet has the cloud in its config, or none runs.
 */
export const UNASKED_END_MS = 20 * 60_000;

/**
 * The watch moves to another worker process when its own dies: the heartbeat timeout ends the
 * attempt, and the retry (never given up, backoff capped) is picked up by whichever process
 * polls next, from the cursor the last heartbeat carried.
 */
const watching = proxyActivities<Pick<Activities, 'watchCloudStatus'>>({
  startToCloseTimeout: '70 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * The fleet's one status watcher of a cloud: one long activity that lists the cloud's changes and
 * tells each lifecycle when its server finished booting. Each run watches for an hour, then
 * continues as new with the cursor it reached, so its history stays short.
 */
export async function cloudStatusWatcher(input: StatusWatcherInput): Promise<string> {
  let askedAt = input.askedAt === undefined ? Date.now() : Date.parse(input.askedAt);
  setHandler(keepWatchingSignal, () => {
    askedAt = Date.now();
  });
  const { cursor } = await watching.watchCloudStatus.executeWithOptions({ summary: `watch ${input.cloud} for boots that end` }, [
    { cloud: input.cloud, deployment: input.deployment, cursor: input.cursor },
  ]);
  if (Date.now() - askedAt > UNASKED_END_MS) return `ended at ${cursor}: no worker process asked for this watcher since ${new Date(askedAt).toISOString()}`;
  return continueAsNew<typeof cloudStatusWatcher>({ ...input, cursor, askedAt: new Date(askedAt).toISOString() });
}
