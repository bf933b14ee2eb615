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

/** The ACTIVE-detection lag in three parts, each a distribution over the lifecycles (ms). */
export interface ActiveLagParts {
  /** The simulator's ACTIVE to the next status list the cloud received: the watcher's tick. */
  toNextList?: Distribution;
  /** That list to the status signal in the lifecycle's history: the list's pages, the feed, the signal's round trip. */
  listToSignal?: Distribution;
  /** The signal to the workflow task that saw it (the lifecycle's `activeAt`): the task queue and the worker. */
  signalToSeen?: Distribution;
}

/**
 * Where the ACTIVE-detection lag goes, lifecycle by lifecycle, from the cloud's request log and
 * the time Temporal recorded each lifecycle's status signal. Lifecycles without the signal (the
 * boot seen by their own look) are left out.
 */
export async function activeLagParts(temporal: Client, records: readonly LifecycleRecord[], requests: readonly RecordedRequest[]): Promise<ActiveLagParts> {
  const lists = requests.filter((request) => statusRead(request)?.serverId === undefined && statusRead(request) !== undefined).map((request) => request.at);
  lists.sort((a, b) => a - b);
  const limit = limiter(20);
  const parts = await Promise.all(
    records.map((record) =>
      limit(async () => {
        if (record.simActive === undefined || record.detected === undefined) return undefined;
        const history = await temporal.workflow.getHandle(workflowIdFor(record.workerName)).fetchHistory();
        const signal = history.events?.find(
          (event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && event.workflowExecutionSignaledEventAttributes?.signalName === SERVER_STATUS_SIGNAL,
        );
        const seconds = signal?.eventTime?.seconds;
        if (!signal || seconds === undefined || seconds === null) return undefined;
        const signalAt = Number(seconds) * 1000 + Math.floor((signal.eventTime?.nanos ?? 0) / 1e6);
        const listAt = lists.find((at) => at >= record.simActive!);
        return { toNextList: listAt === undefined ? undefined : listAt - record.simActive, listToSignal: listAt === undefined ? undefined : signalAt - listAt, signalToSeen: record.detected - signalAt };
      }),
    ),
  );
  const of = (pick: (part: NonNullable<(typeof parts)[number]>) => number | undefined) =>
    distribution(parts.flatMap((part) => (part && pick(part) !== undefined ? [pick(part)!] : [])));
  return { toNextList: of((p) => p.toNextList), listToSignal: of((p) => p.listToSignal), signalToSeen: of((p) => p.signalToSeen) };
}
