import type { Client } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import type { CloudRegistry } from '../activities/cloudRegistry.js';
import { OWNER_KEYS } from '../activities/ownerKeys.js';
import { LIFECYCLE_WORKFLOW_TYPE, PHASES } from '../contract/names.js';
import { phaseKey } from '../workflows/searchAttributes.js';
import type { Phase } from '../workflows/types.js';
import type { WorkerMetrics } from './metrics.js';
import { repeat, type Repeating } from './repeat.js';

// Gauges an operator reads first (how many lifecycles in each phase, how many servers in each
// state on each cloud), the way Nodepool shows nodes by state per provider. Neither is this
// process's to know alone: lifecycles move between the worker processes of a task queue, and a
// server outlives the process that made it. So they are counted where they are kept, now and
// then: lifecycles by Temporal's visibility, servers by one full list per cloud (the reaper's
// and `max_servers`' list; Nova cannot filter by metadata). Every worker process reports the same
// counts: aggregate them with max, not sum (deploy/prometheus/rules.yml does).

/** Phases of a running lifecycle; one in `starting` has not written its phase yet. */
const RUNNING_PHASES: readonly Phase[] = PHASES.filter((phase) => phase !== 'done');

const TEMPORAL_DEADLINE_MS = 10_000;

export interface CensusOptions {
  temporal: Client;
  taskQueue: string;
  clouds: CloudRegistry;
  deployment: string;
  metrics: WorkerMetrics;
  intervalMs: number;
  logger: Logger;
}

export type Census = Repeating;

/** Counts at once, then every `intervalMs`, until stopped; a count that fails is logged and tried again next time. */
export function startCensus(options: CensusOptions): Census {
  return repeat(() => Promise.all([countLifecycles(options), ...options.clouds.distinctClouds().map((cloud) => countServers(options, cloud))]), () => options.intervalMs);
}

function phaseQuery(taskQueue: string, phase: Phase): string {
  const base = `WorkflowType = '${LIFECYCLE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue.replaceAll("'", "\\'")}'`;
  return `${base} AND ${phaseKey.name} ${phase === 'starting' ? 'IS NULL' : `= '${phase}'`}`;
}

async function countLifecycles({ temporal, taskQueue, metrics, logger }: CensusOptions): Promise<void> {
  try {
    const counts: Record<string, number> = {};
    for (const phase of RUNNING_PHASES) {
      const { count } = await temporal.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () => temporal.workflow.count(phaseQuery(taskQueue, phase)));
      counts[phase] = count;
    }
    metrics.lifecycleCensus(taskQueue, counts, new Date());
  } catch (error) {
    logger.warn(`lifecycle census: counting lifecycles by phase failed (tried again in the next round): ${(error as Error).message}`);
  }
}

async function countServers({ clouds, deployment, metrics, logger }: CensusOptions, { cloud, workerName }: { cloud: string; workerName: string }): Promise<void> {
  try {
    const servers = await clouds.forWorker(workerName).compute.listServers();
    const counts: Record<string, number> = {};
    const listed = new Set<string>();
    for (const server of servers) {
      listed.add(server.id);
      if (server.metadata?.[OWNER_KEYS.deployment] !== deployment) continue;
      counts[server.status] = (counts[server.status] ?? 0) + 1;
    }
    metrics.serverCensus(cloud, counts, listed, new Date());
  } catch (error) {
    logger.warn(`server census: listing the servers of ${cloud} failed (tried again in the next round): ${(error as Error).message}`);
  }
}
