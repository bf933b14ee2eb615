import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { workflowIdFor } from '../src/contract/index.js';
import type { RecordedRequest } from '../src/simulator/index.js';
import { SERVER_STATUS_SIGNAL } from '../src/workflows/statusWatchNames.js';
import { statusRead } from './calls.js';
import { limiter } from './limit.js';
import type { LifecycleRecord } from './master.js';
import { distribution, type Distribution } from './stats.js';

const EventType = proto.temporal.api.enums.v1.EventType;
const TaskQueueKind = proto.temporal.api.enums.v1.TaskQueueKind;

/** The ACTIVE-detection lag and its three parts, each a distribution over the lifecycles (ms). */
export interface ActiveLagParts {
  /**
   * The simulator's ACTIVE to the workflow task of the lifecycle that heard it: when the lifecycle
   * can act on it. Not its `activeAt`, which is when the watcher's list showed it (the signal
   * carries that time, so a task that runs late still reports when the cloud was seen).
   */
  activeDetectionLag?: Distribution;
  /** The simulator's ACTIVE to the next status list the cloud received: the watcher's tick. */
  toNextList?: Distribution;
  /** That list to the status signal in the lifecycle's history: the list's pages, the feed, the signal's round trip. */
  listToSignal?: Distribution;
  /** The signal to the workflow task that heard it (its start in the history): the task queue and the worker. */
  signalToHeard?: Distribution;
  /** Of that, the signal to the task's scheduling: above zero when a task of the lifecycle was running at the signal. */
  signalToScheduled?: Distribution;
  /** The task scheduled (or the signal, if later) to started: its wait in the task queue for a worker's poll. */
  scheduledToStarted?: Distribution;
  /** That task started to completed: the worker's time for it, its wait for the workflow thread included. */
  heardTaskInWorker?: Distribution;
  /** Of the tasks that heard a status signal, how many went to the worker's sticky queue (the rest to the shared queue, a cache miss). */
  stickyTasks?: number;
  heardTasks?: number;
}

/**
 * Where the ACTIVE-detection lag goes, lifecycle by lifecycle, from the cloud's request log and
 * the times Temporal recorded in each lifecycle's history: its status signal, and the start of
 * the first workflow task after it. A lifecycle whose boot was seen by its own look has no
 * signal: its lag is its `activeAt`, the time of the task that looked.
 */
export async function activeLagParts(temporal: Client, records: readonly LifecycleRecord[], requests: readonly RecordedRequest[]): Promise<ActiveLagParts> {
  const lists = requests.filter((request) => statusRead(request)?.serverId === undefined && statusRead(request) !== undefined).map((request) => request.at);
  lists.sort((a, b) => a - b);
  const limit = limiter(20);
  const parts = await Promise.all(
    records.map((record) =>
      limit(async () => {
        if (record.simActive === undefined || record.detected === undefined) return undefined;
        const events = (await temporal.workflow.getHandle(workflowIdFor(record.workerName)).fetchHistory()).events ?? [];
        const at = events.findIndex(
          (event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && event.workflowExecutionSignaledEventAttributes?.signalName === SERVER_STATUS_SIGNAL,
        );
        const heard = at < 0 ? undefined : events.slice(at).find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
        const signalAt = at < 0 ? undefined : timeOf(events[at]!);
        const heardAt = heard ? timeOf(heard) : undefined;
        if (signalAt === undefined || heardAt === undefined) return { lag: record.detected - record.simActive };
        // A task scheduled before the signal (and not yet started) takes it along: its wait starts with the signal.
        const scheduledId = Number(heard!.workflowTaskStartedEventAttributes?.scheduledEventId ?? 0);
        const scheduled = events.find((event) => Number(event.eventId) === scheduledId);
        const scheduledAt = scheduled ? Math.max(signalAt, timeOf(scheduled) ?? signalAt) : undefined;
        const startedId = Number(heard!.eventId);
        const completed = events.find((event) => Number(event.workflowTaskCompletedEventAttributes?.startedEventId ?? -1) === startedId);
        const completedAt = completed ? timeOf(completed) : undefined;
        const listAt = lists.find((time) => time >= record.simActive!);
        return {
          lag: heardAt - record.simActive,
          toNextList: listAt === undefined ? undefined : listAt - record.simActive,
          listToSignal: listAt === undefined ? undefined : signalAt - listAt,
          signalToHeard: heardAt - signalAt,
          signalToScheduled: scheduledAt === undefined ? undefined : scheduledAt - signalAt,
          scheduledToStarted: scheduledAt === undefined ? undefined : heardAt - scheduledAt,
          inWorker: completedAt === undefined ? undefined : completedAt - heardAt,
          sticky: scheduled?.workflowTaskScheduledEventAttributes?.taskQueue?.kind === TaskQueueKind.TASK_QUEUE_KIND_STICKY,
        };
      }),
    ),
  );
  const of = (pick: (part: NonNullable<(typeof parts)[number]>) => number | undefined) =>
    distribution(parts.flatMap((part) => (part && pick(part) !== undefined ? [pick(part)!] : [])));
  const heardTasks = parts.filter((part) => part?.signalToHeard !== undefined);
  return {
    activeDetectionLag: of((p) => p.lag),
    toNextList: of((p) => p.toNextList),
    listToSignal: of((p) => p.listToSignal),
    signalToHeard: of((p) => p.signalToHeard),
    signalToScheduled: of((p) => p.signalToScheduled),
    scheduledToStarted: of((p) => p.scheduledToStarted),
    heardTaskInWorker: of((p) => p.inWorker),
    stickyTasks: heardTasks.filter((part) => part?.sticky).length,
    heardTasks: heardTasks.length,
  };
}

function timeOf(event: proto.temporal.api.history.v1.IHistoryEvent): number | undefined {
  const seconds = event.eventTime?.seconds;
  if (seconds === undefined || seconds === null) return undefined;
  return Number(seconds) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);
}
