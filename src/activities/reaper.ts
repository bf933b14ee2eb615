import { cancellationSignal, getClient } from '@temporalio/activity';
import { isGrpcServiceError, ServiceError, WorkflowNotFoundError, type WorkflowExecutionStatusName } from '@temporalio/client';
import type { CloudRegistry } from './cloudRegistry.js';
import { cloudCall } from './failures.js';
import { OWNER_KEYS } from './ownerKeys.js';

/** A cloud to scan, and the configured worker whose client scans it. */
export interface ReaperCloud {
  /** Auth URL, project and region: never a credential. */
  cloud: string;
  workerName: string;
}

export interface ReaperTargets {
  deployment: string;
  clouds: ReaperCloud[];
}

/** The run that created a server, as its metadata names it. */
export interface OwnerRef {
  workflowId: string;
  runId: string;
}

/** A server that carries this deployment's mark. */
export interface DeploymentServer {
  serverId: string;
  name: string;
  status: string;
  /** Nova's `created`, ISO 8601. */
  created: string;
  cloud: string;
  /** Whose client reaches the server's cloud; not necessarily the worker that created it. */
  workerName: string;
  /** Absent when the server carries the deployment mark without a complete owner. */
  owner?: OwnerRef;
}

/** Temporal's status of the owning run, or NOT_FOUND when Temporal knows no such run. */
export type OwnerState = WorkflowExecutionStatusName | 'NOT_FOUND';

const DESCRIBE_TIMEOUT_MS = 10_000;
// gRPC INVALID_ARGUMENT: a run id that is not a UUID names no run that could ever exist.
const GRPC_INVALID_ARGUMENT = 3;

/**
 * What the orphan reaper needs from the outside world. Which servers are ours is decided here
 * by the deployment of this worker process's config, the same one createServer writes.
 */
export function reaperActivities(clouds: CloudRegistry, { deployment }: { deployment: string }) {
  async function reaperTargets(): Promise<ReaperTargets> {
    return { deployment, clouds: clouds.distinctClouds() };
  }

  /** Nova cannot filter on metadata: every server of the project is listed, every page, and filtered here. */
  async function listDeploymentServers({ cloud, workerName }: ReaperCloud): Promise<DeploymentServer[]> {
    const nova = clouds.forWorker(workerName).compute;
    const servers = await cloudCall(() => nova.listServers({}, { signal: cancellationSignal() }));
    return servers
      .filter((server) => server.metadata?.[OWNER_KEYS.deployment] === deployment && server.status !== 'DELETED')
      .map((server) => {
        const workflowId = server.metadata[OWNER_KEYS.workflowId];
        const runId = server.metadata[OWNER_KEYS.runId];
        return {
          serverId: server.id,
          name: server.name,
          status: server.status,
          created: server.created,
          cloud,
          workerName,
          ...(workflowId && runId ? { owner: { workflowId, runId } } : {}),
        };
      });
  }

  /** The state of each owning run, in the order given, from this worker's Temporal namespace. */
  async function describeOwners({ owners }: { owners: OwnerRef[] }): Promise<OwnerState[]> {
    const workflows = getClient().workflow;
    const states: OwnerState[] = [];
    for (const { workflowId, runId } of owners) {
      try {
        const description = await workflows.withDeadline(Date.now() + DESCRIBE_TIMEOUT_MS, () => workflows.getHandle(workflowId, runId).describe());
        states.push(description.status.name);
      } catch (error) {
        if (!namesNoRun(error)) throw error;
        states.push('NOT_FOUND');
      }
    }
    return states;
  }

  return { reaperTargets, listDeploymentServers, describeOwners };
}

function namesNoRun(error: unknown): boolean {
  if (error instanceof WorkflowNotFoundError) return true;
  return error instanceof ServiceError && isGrpcServiceError(error.cause) && error.cause.code === GRPC_INVALID_ARGUMENT;
}
