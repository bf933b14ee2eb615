// What the Temporal dev server says of its own work in a batch, from its Prometheus metrics (the
// counters of the batch's end minus those of its start). These locate a wait that the histories
// only bound: the histories tell when a workflow task was scheduled and started, the server tells
// whether it waited in a backlog, and whether the server's one history shard held it up.

const FETCH_TIMEOUT_MS = 10_000;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

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

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

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

const SETTLE_READINGS = 10;
const SETTLE_INTERVAL_MS = 1000;

const settledTotal = (reading: MetricsReading) => total(reading, 'persistence_requests') + total(reading, 'task_schedule_to_start_latency_count');

async function readOnce(url: string): Promise<MetricsReading | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) return undefined;
    return parseMetrics(await response.text());
  } catch {
    return undefined;
  }
}

export function parseMetrics(text: string): MetricsReading {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line.trim());
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function total(reading: MetricsReading, name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  return reading.reduce((sum, s) => (s.name === name && where(s.labels) ? sum + s.value : sum), 0);
}

/** The batch's share: every counter at its end less the same counter at its start. */
export function serverWork(before: MetricsReading, after: MetricsReading): ServerWork {
  const delta = (name: string, where?: (labels: Record<string, string>) => boolean) => total(after, name, where) - total(before, name, where);
  const meanMs = (histogram: string, where?: (labels: Record<string, string>) => boolean) => {
    const count = delta(`${histogram}_count`, where);
    return count > 0 ? (1000 * delta(`${histogram}_sum`, where)) / count : undefined;
  };
  const workflowTasks = (sticky: boolean) => (labels: Record<string, string>) => labels.task_type === 'Workflow' && (labels.partition === '__sticky__') === sticky;
  const shard = (labels: Record<string, string>) => labels.operation === 'ShardInfo';
  return {
    stateWrites: delta('persistence_requests', (labels) => labels.operation === 'UpdateWorkflowExecution' || labels.operation === 'CreateWorkflowExecution'),
    heartbeats: delta('service_requests', (labels) => labels.operation === 'RecordActivityTaskHeartbeat' && labels.service_name === 'frontend'),
    shardWaits: delta('semaphore_latency_count', shard),
    shardWaitMeanMs: meanMs('semaphore_latency', shard),
    stickyTasks: delta('task_schedule_to_start_latency_count', workflowTasks(true)),
    stickyScheduleToStartMeanMs: meanMs('task_schedule_to_start_latency', workflowTasks(true)),
    sharedTasks: delta('task_schedule_to_start_latency_count', workflowTasks(false)),
    sharedScheduleToStartMeanMs: meanMs('task_schedule_to_start_latency', workflowTasks(false)),
    stickyFromBacklog: delta('asyncmatch_latency_count', workflowTasks(true)),
  };
}
