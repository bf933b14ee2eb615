import { activityInfo, cancellationSignal } from '@temporalio/activity';
import type { CloudRegistry } from './cloudRegistry.js';
import type { MissingNotifier } from './notify.js';
import { consoleTail } from './servers.js';
import type { WorkerRef } from '../workflows/types.js';

export interface MissingInput extends WorkerRef {
  serverId: string;
  serverName: string;
  recipients: string[];
  missingTimeoutSeconds: number;
  /** Read before the server was deleted; looked up here when absent (lifecycles that notified first). */
  diagnostics?: ServerDiagnostics;
}

/** What the cloud says about a server a report is about. */
export interface ServerDiagnostics {
  status: string;
  fault?: string;
  consoleTail?: string;
}

export interface LaunchFailedInput extends WorkerRef {
  recipients: string[];
  reasons: string[];
}

/**
 * Tells people when a lifecycle gives up. A missing worker's report carries what an operator
 * needs to see why: the server's status, Nova's fault, and the end of its console log, looked up
 * here so that none of it has to pass through workflow history.
 */
export function reportActivities(clouds: CloudRegistry, notifier: MissingNotifier) {
  async function notifyMissing({ diagnostics, ...input }: MissingInput): Promise<void> {
    await notifier.notifyMissing({
      kind: 'missing',
      // Named one by one: the sealed account, if any, is for the cloud calls, not for reports.
      workerName: input.workerName,
      serverId: input.serverId,
      serverName: input.serverName,
      recipients: input.recipients,
      missingTimeoutSeconds: input.missingTimeoutSeconds,
      ...(diagnostics ?? (await serverDiagnostics(clouds, input, input.serverId))),
      ...reportIdentity(clouds, input.workerName),
    });
  }

  async function notifyLaunchFailed(input: LaunchFailedInput): Promise<void> {
    await notifier.notifyMissing({
      kind: 'failed',
      workerName: input.workerName,
      recipients: input.recipients,
      reasons: input.reasons,
      missingTimeoutSeconds: 0,
      ...reportIdentity(clouds, input.workerName),
    });
  }

  /** Read while the server still exists, so that it can be deleted before anyone is told. */
  async function missingDiagnostics(input: WorkerRef & { serverId: string }): Promise<ServerDiagnostics> {
    return serverDiagnostics(clouds, input, input.serverId);
  }

  return { notifyMissing, notifyLaunchFailed, missingDiagnostics };
}

/**
 * Which lifecycle a report is about, and when it was first attempted: the same on every retry, so
 * a channel that already delivered it is not sent it twice.
 */
function reportIdentity(clouds: CloudRegistry, workerName: string) {
  const info = activityInfo();
  return {
    workflowId: info.workflowExecution?.workflowId ?? 'unknown',
    cloud: clouds.cloudLabelFor(workerName),
    at: new Date(info.scheduledTimestampMs).toISOString(),
  };
}

/** Best effort: a report goes out even when the cloud cannot say more about the server. */
async function serverDiagnostics(clouds: CloudRegistry, { workerName }: WorkerRef, serverId: string): Promise<ServerDiagnostics> {
  const cloud = clouds.forWorker(workerName);
  const server = await cloud.compute.getServer(serverId, { signal: cancellationSignal() }).catch(() => undefined);
  return { status: server?.status ?? 'unknown', fault: server?.fault?.message, consoleTail: await consoleTail(cloud, serverId) };
}
