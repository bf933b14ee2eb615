import { ApplicationFailure } from '@temporalio/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallOptions, Server } from '../openstack/index.js';

/** The first look after the DELETE: Nova seldom has a server gone sooner. */
export const GONE_FIRST_LOOK_MS = 1000;
/** The longest between two looks: the end of a delete is not waited on long after it comes, and the activity's heartbeat goes on meanwhile. */
export const GONE_LOOK_MAX_MS = 10_000;

export interface GoneWaitOptions {
  signal: AbortSignal;
  /** Local time by which the wait stops with a retryable failure, so that the attempt ends in the activity's own hands (and is reported once stuck long). */
  until: number;
  /** Each status the server is still seen in. */
  onStatus(status: string): void;
}

/**
 * Waits until Nova no longer has a deleted server by reading that server alone, at a widening
 * interval. Not on the worker process's shared status poller: each process of a fleet listed the
 * cloud while any of its own lifecycles deleted, so the reads grew with the number of processes;
 * reads of one server cost the same whatever the fleet's size, and the end of a delete is worth
 * no quick tick. A failed read throws, and so does a server still there at `until`: the delete's
 * retries go on for as long as the server exists.
 */
export async function lookUntilGone(serverId: string, getServer: (options: CallOptions) => Promise<Server | undefined>, { signal, until, onStatus }: GoneWaitOptions): Promise<void> {
  for (let waitMs = GONE_FIRST_LOOK_MS, status = 'unknown'; ; waitMs = Math.min(GONE_LOOK_MAX_MS, waitMs * 2)) {
    if (Date.now() + waitMs > until) throw ApplicationFailure.retryable(`server ${serverId} is still there (${status}) after its delete; the delete is sent again`, 'ServerNotGone');
    await sleep(waitMs, undefined, { signal });
    const server = await getServer({ signal });
    if (!server || server.status === 'DELETED') return;
    status = server.status;
    onStatus(status);
  }
}
