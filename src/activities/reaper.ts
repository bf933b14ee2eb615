import { cancellationSignal, getClient } from '@temporalio/activity';
import { isGrpcServiceError, ServiceError, WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowExecutionStatusName } from '@temporalio/client';
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

/**
 * Temporal's status of the owning run; NOT_FOUND when Temporal knows no such run of a workflow id
 * it knows; CARRIED_ON when the run is closed but its chain goes on in an open run (a `workflow
 * reset` or a continue-as-new gives a new run id, while the server names the old one); FOREIGN when
 * this namespace knows no run of that workflow id at all (another installation sharing the
 * deployment, or a history past retention), which is never reason enough to delete.
 */
export type OwnerState = WorkflowExecutionStatusName | 'NOT_FOUND' | 'CARRIED_ON' | 'FOREIGN';

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
    const describe = async (workflowId: string, runId?: string) => {
      try {
        return await workflows.withDeadline(Date.now() + DESCRIBE_TIMEOUT_MS, () => workflows.getHandle(workflowId, runId).describe());
      } catch (error) {
        if (!namesNoRun(error)) throw error;
        return undefined;
      }
    };
    for (const { workflowId, runId } of owners) {
      const run = await describe(workflowId, runId);
      if (run && OPEN.has(run.status.name)) {
        states.push(run.status.name);
        continue;
      }
      const current = await describe(workflowId);
      if (!current) states.push('FOREIGN');
      else if (!run) states.push('NOT_FOUND');
      else states.push(OPEN.has(current.status.name) && sameChain(run, current) ? 'CARRIED_ON' : run.status.name);
    }
    return states;
  }

  return { reaperTargets, listDeploymentServers, describeOwners };
}

const OPEN = new Set<string>(['RUNNING', 'PAUSED']);

/**
 * Runs of one chain (reset, continue-as-new, retry) share the first run id. A server that does not
 * say it is taken as the same chain: keeping a server is the safe mistake.
 */
function sameChain(run: WorkflowExecutionDescription, current: WorkflowExecutionDescription): boolean {
  const first = (description: WorkflowExecutionDescription) => description.raw.workflowExecutionInfo?.firstRunId || undefined;
  const [a, b] = [first(run), first(current)];
  return a === undefined || b === undefined || a === b;
}

function namesNoRun(error: unknown): boolean {
  if (error instanceof WorkflowNotFoundError) return true;
  return error instanceof ServiceError && isGrpcServiceError(error.cause) && error.cause.code === GRPC_INVALID_ARGUMENT;
}
