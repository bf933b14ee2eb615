import { Client } from '@temporalio/client';
import type { DataConverter, Logger } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { CloudRegistry } from '../activities/cloudRegistry.js';
import type { StatusWatcherInput } from '../workflows/statusWatcher.js';
import { KEEP_WATCHING_SIGNAL, STATUS_WATCHER_WORKFLOW_TYPE, statusWatcherId } from '../workflows/statusWatchNames.js';

export interface StatusWatcherKeeperOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deployment: string;
  clouds: CloudRegistry;
  worker: Worker;
  dataConverter?: DataConverter;
  logger: Logger;
  /** How often this process asks for each watcher again; default 5 minutes. */
  everyMs?: number;
}

export const ASK_EVERY_MS = 5 * 60_000;
const ASK_TIMEOUT_MS = 10_000;
const DONE_STATES = new Set(['STOPPING', 'DRAINING', 'DRAINED', 'STOPPED', 'FAILED']);

/**
 * Asks for the status watcher of every cloud this process's config names, at start and every few
 * minutes while the worker runs: signal-with-start on the watcher's fixed workflow id, so a fleet
 * of processes keeps exactly one running per cloud (Temporal refuses a second run of the same id),
 * and one that was terminated, or ended unasked, is back within `everyMs`. The asking is also what
 * keeps a watcher alive: one that no process asks for any more ends (src/workflows/statusWatcher.ts).
 */
export function keepStatusWatchers({ connection, namespace, taskQueue, deployment, clouds, worker, dataConverter, logger, everyMs = ASK_EVERY_MS }: StatusWatcherKeeperOptions): { asked: Promise<void> } {
  const client = new Client({ connection, namespace, dataConverter });
  const askAll = async (): Promise<void> => {
    await Promise.all(
      clouds.distinctClouds().map(async ({ cloud }) => {
        const workflowId = statusWatcherId(deployment, taskQueue, cloud);
        try {
          await client.workflow.withDeadline(Date.now() + ASK_TIMEOUT_MS, () => client.workflow.signalWithStart(STATUS_WATCHER_WORKFLOW_TYPE, {
            workflowId,
            taskQueue,
            args: [{ cloud, deployment } satisfies StatusWatcherInput],
            signal: KEEP_WATCHING_SIGNAL,
            signalArgs: [],
            staticSummary: `Status watcher of ${cloud} for deployment ${deployment}: tells lifecycles when their servers finish booting`,
          }));
        } catch (error) {
          // Lifecycles look at their servers themselves meanwhile; the next ask tries again.
          logger.warn(`could not ask for the status watcher ${workflowId}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }),
    );
  };
  const timer = setInterval(() => {
    if (DONE_STATES.has(worker.getState())) clearInterval(timer);
    else void askAll();
  }, everyMs);
  // Never what keeps the process alive: the worker is.
  timer.unref();
  return { asked: askAll() };
}
