// What the Temporal dev server says of its own work in a batch, from its Prometheus metrics (the
// counters of the batch's end minus those of its start). These locate a wait that the histories
// only bound: the histories tell when a workflow task was scheduled and started, the server tells
// whether it waited in a backlog, and whether the server's one history shard held it up.

import { parsePrometheus, valueOf, type Sample } from '../test/support/prometheus.js';

const FETCH_TIMEOUT_MS = 10_000;
const SETTLE_READINGS = 10;
const SETTLE_INTERVAL_MS = 1000;

export type MetricsReading = Sample[];

export interface ServerWork {
  /** Writes of a workflow's state (its creation and each update: a signal, a task started or completed, a heartbeat). */
  stateWrites: number;
  /** Activity heartbeats that reached the server (each is one of those writes). */
  heartbeats: number;
  /** The history shard's persistence semaphore (`history.shardIOConcurrency`): how often taken, and the mean wait (ms). */
  shardWaits: number;
  shardWaitMeanMs?: number;
  /** Workflow tasks scheduled to started, by queue: the worker's sticky queue, and the shared one. */
  stickyTasks: number;
  stickyScheduleToStartMeanMs?: number;
  sharedTasks: number;
  sharedScheduleToStartMeanMs?: number;
  /** Sticky tasks that found no poll waiting and went through the queue's backlog. */
  stickyFromBacklog: number;
}

/**
 * A reading once the server has reported what it did: it gathers some counters on an interval,
 * so a reading taken as work ends can miss its last second (seen as 2 of 52 state writes). Reads
 * a second apart until two agree, at most SETTLE_READINGS times. Undefined when the server does not
 * answer (its metrics are a diagnosis, not a target).
 */
export async function readServerMetrics(url: string): Promise<MetricsReading | undefined> {
  let last = await readOnce(url);
  for (let i = 1; i < SETTLE_READINGS && last; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_INTERVAL_MS));
    const next = await readOnce(url);
    if (!next) return last;
    if (settledTotal(next) === settledTotal(last)) return next;
    last = next;
  }
  return last;
}

const settledTotal = (reading: MetricsReading) => valueOf(reading, 'persistence_requests') + valueOf(reading, 'task_schedule_to_start_latency_count');

async function readOnce(url: string): Promise<MetricsReading | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) return undefined;
    return parsePrometheus(await response.text());
  } catch {
    return undefined;
  }
}

const STICKY = { task_type: 'Workflow', partition: '__sticky__' };
const WORKFLOW_TASKS = { task_type: 'Workflow' };
const SHARD = { operation: 'ShardInfo' };

/** The batch's share: every counter at its end less the same counter at its start. */
export function serverWork(before: MetricsReading, after: MetricsReading): ServerWork {
  const delta = (name: string, labels?: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
  const meanMs = (sum: number, count: number) => (count > 0 ? (1000 * sum) / count : undefined);
  const mean = (histogram: string, labels: Record<string, string>) => meanMs(delta(`${histogram}_sum`, labels), delta(`${histogram}_count`, labels));
  const stickyTasks = delta('task_schedule_to_start_latency_count', STICKY);
  const sharedTasks = delta('task_schedule_to_start_latency_count', WORKFLOW_TASKS) - stickyTasks;
  const sharedWaitSum = delta('task_schedule_to_start_latency_sum', WORKFLOW_TASKS) - delta('task_schedule_to_start_latency_sum', STICKY);
  return {
    stateWrites: delta('persistence_requests', { operation: 'UpdateWorkflowExecution' }) + delta('persistence_requests', { operation: 'CreateWorkflowExecution' }),
    heartbeats: delta('service_requests', { operation: 'RecordActivityTaskHeartbeat', service_name: 'frontend' }),
    shardWaits: delta('semaphore_latency_count', SHARD),
    shardWaitMeanMs: mean('semaphore_latency', SHARD),
    stickyTasks,
    stickyScheduleToStartMeanMs: mean('task_schedule_to_start_latency', STICKY),
    sharedTasks,
    sharedScheduleToStartMeanMs: meanMs(sharedWaitSum, sharedTasks),
    stickyFromBacklog: delta('asyncmatch_latency_count', STICKY),
  };
}
