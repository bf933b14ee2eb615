import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { CreatedServer, PromptCreate } from '../activities/servers.js';
import type { WorkerMetrics } from './metrics.js';

/** The reaper's workflow type: its server deletions are reaped orphans, not lifecycle cleanups. */
const REAPER_WORKFLOW = 'orphanReaper';

/**
 * Watches the server activities from outside, so that they stay plain functions: every log line
 * of an activity that works on a known server carries its `serverId`, and servers created,
 * deleted and reaped are counted (and said once in the log) when their activity succeeds (a
 * lifecycle's first tries at a create and at a delete, within its workflow task, too); a delete
 * attempt that fails is counted too, and its server is undeletable until one succeeds. A first
 * try that falls short is not a failure: the create or the delete goes on as an activity.
 */
export function serverActivityObserver(metrics: WorkerMetrics, cloudOf: (workerName: string) => string): ActivityInterceptorsFactory {
  return (context) => {
    let serverId: string | undefined;
    return {
      inbound: {
        async execute(input, next) {
          const argument = input.args[0];
          serverId = stringField(argument, 'serverId');
          const workerName = stringField(argument, 'workerName') ?? 'unknown';
          const { activityType, workflowType } = context.info;
          let result: unknown;
          try {
            result = await next(input);
          } catch (error) {
            // Every attempt is retried until the server is gone; one that fails is counted, and
            // the server is undeletable until an attempt succeeds or a census no longer lists it.
            if (activityType === 'deleteServer' && serverId && !context.cancellationSignal.aborted) metrics.serverDeleteFailed({ workerName, cloud: cloudOf(workerName), serverId });
            throw error;
          }
          const created = serverCreatedBy(activityType, result);
          if (created) {
            serverId = created.id;
            metrics.serverCreated(workerName, created.adopted);
            context.log.info(created.adopted ? 'server adopted' : 'server created', { workerName, serverName: created.name });
          } else if (activityType === 'deleteServer' || activityType === 'deleteServerPromptly') {
            if (serverId) metrics.serverDeleteSettled(cloudOf(workerName), serverId);
            if (workflowType === REAPER_WORKFLOW) metrics.serverReaped(workerName);
            else metrics.serverDeleted(workerName);
            context.log.info(workflowType === REAPER_WORKFLOW ? 'orphan server reaped' : 'server deleted', { workerName });
          }
          return result;
        },
      },
      outbound: {
        getLogAttributes: (attributes, next) => next(serverId === undefined ? attributes : { ...attributes, serverId }),
      },
    };
  };
}

/** The server a create made or adopted; none when a first try in the workflow task fell short. */
function serverCreatedBy(activityType: string, result: unknown): CreatedServer | undefined {
  if (activityType === 'createServer') return result as CreatedServer;
  if (activityType !== 'createServerPromptly') return undefined;
  const tried = result as PromptCreate;
  return 'server' in tried ? tried.server : undefined;
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null || !(key in value)) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}
