import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import proto from '@temporalio/proto';
import type { CloudRegistry } from '../activities/cloudRegistry.js';
import { liveIdentities, positionOf, SettlingPosition, type Poller } from './fleetShare.js';
import { repeat, type Repeating } from './repeat.js';

// Each worker process counts the fleet of its task queue from Temporal's own list of the pollers
// that polled it, and takes its share of every cloud's limits from that count: the limits hold
// for the whole fleet with no service of our own (docs/architecture.md, "Limits for the whole fleet").

/** Each reading of the poller list gives up after this long; the shares stay as they were meanwhile. */
export const FLEET_CALL_TIMEOUT_MS = 5_000;
/** While a share waits to go up (a new process, or one whose fleet shrank), readings this often see it through without waiting a whole interval. */
const UNSETTLED_INTERVAL_MS = 1_000;
/** At most one warning per this long while the readings fail. */
const WARN_EVERY_MS = 5 * 60_000;

/** Unique to this process even where pids and host names repeat (containers): the fleet is counted by it. */
export function workerIdentity(): string {
  return `${process.pid}@${hostname()}/${randomBytes(4).toString('hex')}`;
}

/**
 * The longest another process (on the same interval) can take to apply a list that the server
 * read after a given moment: its next reading is sent at most an interval after the previous one
 * came back or timed out, and comes back (or times out) within the timeout.
 */
export function settleMs(intervalMs: number): number {
  return intervalMs + 2 * FLEET_CALL_TIMEOUT_MS;
}

export interface FleetCensusOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** The identity the worker polls with. */
  identity: string;
  clouds: CloudRegistry;
  intervalMs: number;
  logger: Logger;
  /** Told the fleet size this process sees, and each cloud's share after every reading (the worker's metrics). */
  onShares?: (fleetSize: number, shares: { cloud: string; requestsPerSecond: number; createSlots: number }[]) => void;
}

export type FleetCensus = Repeating;

/**
 * Reads the activity pollers of the task queue at once and then every `intervalMs`, and sets the
 * process's shares. An increase waits until every other process has read the list since
 * (`settleMs`), so the fleet's sum never goes past a limit while processes
 * join; a failed reading keeps the shares as they were.
 */
export function startFleetCensus(options: FleetCensusOptions): FleetCensus {
  const { connection, namespace, taskQueue, identity, clouds, intervalMs, logger } = options;
  const settling = new SettlingPosition(settleMs(intervalMs));
  let warnedAt = Number.NEGATIVE_INFINITY;
  let failures = 0;
  let told = '';

  const read = async (): Promise<void> => {
    try {
      const pollers = await readPollers(connection, namespace, taskQueue);
      const at = Date.now();
      const identities = liveIdentities(pollers, at);
      settling.record(at, positionOf(identities, identity));
      const shares = clouds.setShares((limits) => settling.shareOf(limits, at));
      options.onShares?.(identities.length, shares);
      failures = 0;
      const said = describeShares(identities.length, taskQueue, shares);
      if (said !== told) logger.info((told = said));
    } catch (error) {
      failures += 1;
      if (Date.now() - warnedAt < WARN_EVERY_MS) return;
      warnedAt = Date.now();
      logger.warn(
        `fleet census: reading the pollers of task queue ${taskQueue} failed (${failures} time(s) in a row); this process keeps its shares of the cloud limits as they were: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };
  return repeat(read, () => (settling.settled(Date.now()) ? intervalMs : Math.min(intervalMs, UNSETTLED_INTERVAL_MS)));
}

/** The log line of a change of the fleet or the shares; its "this process uses" says when the process starts to take part. */
export function describeShares(fleetSize: number, taskQueue: string, shares: readonly { cloud: string; requestsPerSecond: number; createSlots: number }[]): string {
  const counted = `fleet census: ${fleetSize} worker process(es) on task queue ${taskQueue}`;
  if (shares.every((share) => share.requestsPerSecond === 0)) return `${counted}; this process uses no share of cloud_limits yet (it waits until the others have counted it)`;
  return `${counted}; this process uses ${shares.map((share) => `${share.cloud}: ${Number(share.requestsPerSecond.toFixed(3))} requests/s, ${share.createSlots} create slot(s)`).join('; ')}`;
}

async function readPollers(connection: NativeConnection, namespace: string, taskQueue: string): Promise<Poller[]> {
  const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;
  const response = await connection.withDeadline(Date.now() + FLEET_CALL_TIMEOUT_MS, () =>
    connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    }),
  );
  return response.pollers.map((poller) => ({
    identity: poller.identity ?? '',
    lastAccessMs: poller.lastAccessTime ? Number(poller.lastAccessTime.seconds ?? 0) * 1000 + Math.floor((poller.lastAccessTime.nanos ?? 0) / 1e6) : undefined,
  }));
}
