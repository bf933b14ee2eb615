import { activityInfo, cancellationSignal } from '@temporalio/activity';
import type { CloudRegistry } from './cloudRegistry.js';
import type { MissingNotifier } from './notify.js';
import { consoleTail } from './servers.js';

export interface MissingInput {
  workerName: string;
  serverId: string;
  serverName: string;
  recipients: string[];
  missingTimeoutSeconds: number;
}

export interface LaunchFailedInput {
  workerName: string;
  recipients: string[];
  reasons: string[];
}

/**
 * Tells people when a lifecycle gives up. A missing worker's report carries what an operator
 * needs to see why: the server's status, Nova's fault, and the end of its console log, looked up
 * here so that none of it has to pass through workflow history.
 */
export function reportActivities(clouds: CloudRegistry, notifier: MissingNotifier) {
  async function notifyMissing(input: MissingInput): Promise<void> {
    const diagnostics = await serverDiagnostics(clouds, input.workerName, input.serverId);
    await notifier.notifyMissing({
      kind: 'missing',
      ...input,
      ...diagnostics,
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

  return { notifyMissing, notifyLaunchFailed };
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
async function serverDiagnostics(clouds: CloudRegistry, workerName: string, serverId: string): Promise<{ status: string; fault?: string; consoleTail?: string }> {
  const cloud = clouds.forWorker(workerName);
  const server = await cloud.compute.getServer(serverId, { signal: cancellationSignal() }).catch(() => undefined);
  return { status: server?.status ?? 'unknown', fault: server?.fault?.message, consoleTail: await consoleTail(cloud, serverId) };
}
