import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { OWNER_KEYS } from '../activities/ownerKeys.js';
import { cloudLabel } from '../config/credentials.js';
import { cloudScopeOf, type LoadedConfig, type ResolvedWorker } from '../config/load.js';
import { OpenStackClient } from '../openstack/index.js';

/** A server marked with this installation's deployment whose owner this namespace never ran. */
export interface ForeignServer {
  serverId: string;
  name: string;
  cloud: string;
  workflowId: string;
}

export interface DeploymentCheck {
  foreign: ForeignServer[];
  /** Clouds that could not be listed: the check says nothing about them. */
  unlisted: { cloud: string; error: string }[];
}

const LIST_TIMEOUT_MS = 20_000;
const DESCRIBE_TIMEOUT_MS = 10_000;

/**
 * Whether another installation uses this one's `deployment` on a configured project: servers that
 * carry the mark but name a workflow id this namespace has never run. Two installations sharing a
 * deployment count each other's servers against `max_servers`, and each sees the other's servers
 * as not its own (the reaper keeps them, but cannot tell them from leaks).
 */
export async function checkDeployment(config: LoadedConfig, temporal: Client): Promise<DeploymentCheck> {
  const byCloud = new Map<string, ResolvedWorker>();
  for (const worker of config.workers.values()) if (!byCloud.has(cloudScopeOf(worker.credentials))) byCloud.set(cloudScopeOf(worker.credentials), worker);
  const marked: ForeignServer[] = [];
  const unlisted: DeploymentCheck['unlisted'] = [];
  for (const worker of byCloud.values()) {
    const cloud = cloudLabel(worker.credentials);
    const client = new OpenStackClient(worker.credentials, { timeoutMs: LIST_TIMEOUT_MS });
    try {
      for (const server of await client.compute.listServers({}, { signal: AbortSignal.timeout(LIST_TIMEOUT_MS * 3) })) {
        const workflowId = server.metadata?.[OWNER_KEYS.workflowId];
        if (server.metadata?.[OWNER_KEYS.deployment] !== config.deployment || !workflowId || server.status === 'DELETED') continue;
        marked.push({ serverId: server.id, name: server.name, cloud, workflowId });
      }
    } catch (error) {
      unlisted.push({ cloud, error: error instanceof Error ? error.message : String(error) });
    } finally {
      await client.close();
    }
  }
  const known = new Map<string, boolean>();
  for (const { workflowId } of marked) {
    if (known.has(workflowId)) continue;
    try {
      await temporal.workflow.withDeadline(Date.now() + DESCRIBE_TIMEOUT_MS, () => temporal.workflow.getHandle(workflowId).describe());
      known.set(workflowId, true);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      known.set(workflowId, false);
    }
  }
  return { foreign: marked.filter((server) => known.get(server.workflowId) === false), unlisted };
}

/** The refusal, naming the servers and what to do. */
export function describeForeign(deployment: string, namespace: string, foreign: ForeignServer[]): string {
  const shown = foreign.slice(0, 5).map((server) => `${server.name} ${server.serverId} on ${server.cloud} (owner ${server.workflowId})`);
  const more = foreign.length > shown.length ? `, and ${foreign.length - shown.length} more` : '';
  return (
    `deployment "${deployment}" seems to be used by another installation: ${foreign.length} server(s) carry it, but namespace ${namespace} never ran their owners: ${shown.join('; ')}${more}. ` +
    'Give each installation its own `deployment` (or LATENT_WORKER_DEPLOYMENT); if these are leftovers whose history is past retention, delete them by hand; ' +
    'or start with --allow-shared-deployment'
  );
}
