import type { LatentWorkerClient, LifecycleHandle } from '../../src/client/api.js';
import { workflowIdFor } from '../../src/contract/names.js';

type History = Awaited<ReturnType<LifecycleHandle['fetchHistory']>>;

export interface Run {
  runId: string;
  events: number;
  closedBy: string;
}

const CLOSED_BY: Partial<Record<string, string>> = { CONTINUED_AS_NEW: 'ContinuedAsNew', COMPLETED: 'Completed', FAILED: 'Failed', TERMINATED: 'Terminated', CANCELLED: 'Canceled', TIMED_OUT: 'TimedOut' };

/**
 * Every run of the worker's lifecycle, first to last, each with its event count and how it closed.
 * How a run closed is the server's own word (describe); the count is the larger of the history
 * read back and the server's `historyLength`, so a history page the time-skipping server left
 * short cannot make a run look smaller or still open.
 */
export async function runsOf(client: LatentWorkerClient, name: string): Promise<Run[]> {
  const runs: Run[] = [];
  let runId: string | undefined = (await client.handle(name).describe()).runId;
  while (runId) {
    const handle = client.temporal.workflow.getHandle(workflowIdFor(name), runId);
    const description = await handle.describe();
    const history: History = await handle.fetchHistory();
    const events = history.events ?? [];
    const historyLength = Number(description.raw.workflowExecutionInfo?.historyLength ?? 0);
    runs.unshift({ runId, events: Math.max(events.length, historyLength), closedBy: CLOSED_BY[description.status.name] ?? 'open' });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}
