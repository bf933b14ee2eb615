import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { limiter } from './limit.js';

const EventType = proto.temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/** What one workflow run cost the Temporal server, counted from its history. */
export interface HistoryWork {
  events: number;
  workflowTasks: number;
  activityTasks: number;
  /** Local activities, timers, search-attribute upserts and patch markers: work that is not a task of its own. */
  localActivities: number;
  timers: number;
  upserts: number;
  markers: number;
  signals: number;
}

/** The mean over many runs, and the largest single history. */
export interface HistoryWorkSummary {
  runs: number;
  mean: HistoryWork;
  maxEvents: number;
  maxWorkflowTasks: number;
}

const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

function countHistory(events: HistoryEvent[]): HistoryWork {
  const work: HistoryWork = { events: events.length, workflowTasks: 0, activityTasks: 0, localActivities: 0, timers: 0, upserts: 0, markers: 0, signals: 0 };
  for (const event of events) {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        work.workflowTasks += 1;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        work.activityTasks += 1;
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED:
        work.timers += 1;
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
      case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        work.upserts += 1;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        work.signals += 1;
        break;
      case EventType.EVENT_TYPE_MARKER_RECORDED:
        if (event.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) work.localActivities += 1;
        else work.markers += 1;
        break;
    }
  }
  return work;
}

/**
 * Reads the histories of the given workflows (a few at a time: a thousand at once would load the
 * server being measured) and averages what they cost. Read after the CPU figures are taken.
 */
export async function historyWork(client: Client, workflowIds: readonly string[], concurrency = 20): Promise<HistoryWorkSummary> {
  const limit = limiter(concurrency);
  const works = await Promise.all(
    workflowIds.map((id) =>
      limit(async () => {
        const history = await client.workflow.getHandle(id).fetchHistory();
        return countHistory(history.events ?? []);
      }),
    ),
  );
  const mean = Object.fromEntries(
    Object.keys(works[0] ?? countHistory([])).map((key) => [key, works.reduce((sum, w) => sum + w[key as keyof HistoryWork], 0) / Math.max(1, works.length)]),
  ) as unknown as HistoryWork;
  return { runs: works.length, mean, maxEvents: Math.max(0, ...works.map((w) => w.events)), maxWorkflowTasks: Math.max(0, ...works.map((w) => w.workflowTasks)) };
}
