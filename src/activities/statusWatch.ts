import { activityInfo, cancellationSignal, getClient, heartbeat, log } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Nap } from '../openstack/nap.js';
import { StatusFeed, type BootSettled, type FeedList, type StatusFeedOptions } from '../openstack/statusFeed.js';
import type { BootPacer } from './bootPacer.js';
import type { ServerStatusChange } from '../workflows/bootWatch.js';
import { SERVER_STATUS_SIGNAL } from '../workflows/statusWatchNames.js';
import type { ServerRef } from './servers.js';
import { judgeBoot } from './servers.js';
import type { CloudRegistry } from './cloudRegistry.js';
import { cloudCall } from './failures.js';
import { OWNER_KEYS } from './ownerKeys.js';

export interface WatchCloudInput {
  /** The cloud as `distinctClouds` names it (auth URL, project, region): never a credential. */
  cloud: string;
  deployment: string;
  /** Where the last watch of this cloud stopped (the cloud's clock, ISO); none for a first watch. */
  cursor?: string;
}

export interface WatchCloudResult {
  cursor: string;
}

export interface LookAtBootInput extends ServerRef {
  /** ISO time of the boot deadline, fixed by the workflow. */
  deadline: string;
  /** The deadline has passed: a server still booting is judged timed out whatever this process's clock says. */
  final: boolean;
}

export interface StatusWatchOptions {
  /** How long one watch runs before it hands over to the next run of its workflow; default 1 hour. */
  runForMs?: number;
  /** Tuning of the feed, for tests and the bench. */
  feed?: Omit<StatusFeedOptions, 'deployment' | 'ownerKeys' | 'cursor'>;
}

export const WATCH_RUN_MS = 3600_000;
/** Sent on every few seconds whatever the list does: far inside the watcher's 10 s heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 2000;
/** An attempt stops its own work this long before its start-to-close timeout. */
const ATTEMPT_MARGIN_MS = 60_000;
const SIGNALS_IN_FLIGHT = 32;
/** How long the lifecycle's own look waits on this process's poller for a server still booting: well inside its 1-minute timeout. */
const LOOK_WAIT_MS = 20_000;
/** A signal not through in this long fails the round; the list is taken again from the same cursor. */
const SIGNAL_TIMEOUT_MS = 10_000;
const BACKOFF_FIRST_MS = 500;
const PACED_TICK_MS = 500;
export const PACED_TAIL_MS = 30_000;
const BACKOFF_MAX_MS = 10_000;

/**
 * The fleet's one status watcher per cloud (src/workflows/statusWatcher.ts) and the lifecycle's
 * own slow look at its booting server, for when no watcher answers.
 */
export function statusWatchActivities(clouds: CloudRegistry, { runForMs = WATCH_RUN_MS, feed: feedTuning }: StatusWatchOptions = {}) {
  /**
   * Lists the cloud's changes and signals each lifecycle whose server finished booting, until its
   * run is over, then returns where it stopped. Deletes sent from this process meanwhile learn from
   * the same lists when their servers are gone (src/activities/goneNotices.ts). Its heartbeat carries the cursor: when its process
   * dies, the heartbeat timeout hands the next attempt, on another process, the same cursor, and
   * nothing that changed meanwhile is missed. A list or signal that fails is tried again from the
   * same cursor with capped backoff, for as long as the watch runs: lifecycles have their own
   * bounded fallback meanwhile.
   */
  async function watchCloudStatus(input: WatchCloudInput): Promise<WatchCloudResult> {
    const info = activityInfo();
    const workerName = clouds.distinctClouds().find(({ cloud }) => cloud === input.cloud)?.workerName;
    if (!workerName) {
      // Another process of the fleet may have it: the retry policy hands the watch on.
      throw ApplicationFailure.retryable(`this worker process has no worker on cloud ${input.cloud}; another process of the fleet must watch it`, 'CloudNotConfigured');
    }
    const nova = clouds.forWorker(workerName).compute;
    const signal = cancellationSignal();
    const endAt = Date.now() + Math.max(HEARTBEAT_EVERY_MS, Math.min(runForMs, info.startToCloseTimeoutMs - ATTEMPT_MARGIN_MS));
    const taken = cursorOf(info.heartbeatDetails) ?? cursorOf(input);
    const feed = new StatusFeed(nova, { ...feedTuning, deployment: input.deployment, ownerKeys: OWNER_KEYS, cursor: taken });
    const progress = () => ({ cursor: new Date(feed.cursor).toISOString(), booting: feed.bootingCount });
    heartbeat(progress());
    const heartbeats = setInterval(() => heartbeat(progress()), HEARTBEAT_EVERY_MS);
    const workflows = getClient().workflow;
    const health = clouds.statusWatchHealth(input.cloud);
    const goneNotices = clouds.goneNotices(input.cloud);
    const stopFollowing = goneNotices.watchStarted();
    log.info(`watching ${input.cloud} for deployment ${input.deployment} from ${progress().cursor} (attempt ${info.attempt})`);
    let backoffMs = 0;
    let listedAt = Date.now();
    const nap = new Nap();
    const stopHearing = clouds.onBootNews(input.cloud, (news) => {
      if (news.kind === 'started') feed.expectBoot(news.serverId);
      if (backoffMs === 0) nap.bringForward(listedAt + pacedDelayMs(feed.nextDelayMs(), clouds.bootPacerOf(input.cloud)));
    });
    try {
      while (Date.now() < endAt) {
        let delayMs: number;
        try {
          const list = await feed.list({ signal });
          await tell(workflows, list.settled);
          feed.advance(list);
          goneNotices.listed(list.gone);
          endBoots(clouds.bootPacerOf(input.cloud), list);
          health?.listed(true, feed.bootingCount);
          backoffMs = 0;
          listedAt = Date.now();
          delayMs = pacedDelayMs(feed.nextDelayMs(), clouds.bootPacerOf(input.cloud));
        } catch (error) {
          if (signal.aborted) throw error;
          health?.listed(false, feed.bootingCount);
          backoffMs = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_FIRST_MS, backoffMs * 2));
          delayMs = backoffMs;
          log.warn(`status watch of ${input.cloud}: ${error instanceof Error ? error.message : String(error)}; trying again from the same point in ${delayMs} ms`);
        }
        await nap.until(Date.now() + Math.min(delayMs, Math.max(0, endAt - Date.now())), signal);
      }
    } finally {
      stopHearing();
      clearInterval(heartbeats);
      stopFollowing();
    }
    return { cursor: progress().cursor };
  }

  /**
   * The lifecycle's own look at its booting server, for when the watcher has not told it: a
   * server still booting is waited for a little on this process's own status poller (at most
   * LOOK_WAIT_MS, never past the deadline), so that a look that comes just before the boot ends
   * sees it end. Returns ACTIVE, or the status it still has; throws the typed failure of a boot
   * that failed or, on the final look, ran out of time.
   */
  async function lookAtBoot({ workerName, serverId, deadline, final }: LookAtBootInput): Promise<string> {
    const cloud = clouds.forWorker(workerName);
    const cancelled = cancellationSignal();
    let server = await cloudCall(() => cloud.compute.getServer(serverId, { signal: cancelled }));
    const booting = (candidate: typeof server) => candidate !== undefined && candidate.status !== 'ACTIVE' && candidate.status !== 'ERROR' && candidate.status !== 'DELETED';
    if (booting(server) && !final) {
      const waitMs = Math.min(LOOK_WAIT_MS, Date.parse(deadline) - Date.now());
      if (waitMs > 0) {
        const outcome = await clouds
          .watcherFor(workerName)
          .watch(serverId, 'active', { signal: AbortSignal.any([cancelled, AbortSignal.timeout(waitMs)]) })
          .catch((error: unknown) => {
            if (cancelled.aborted) throw error;
            return undefined;
          });
        if (outcome) server = outcome.kind === 'gone' ? undefined : outcome.server;
      }
      if (booting(server)) return server!.status;
    }
    await judgeBoot(cloud, serverId, server?.status === 'DELETED' ? undefined : server, deadline);
    return 'ACTIVE';
  }

  return { watchCloudStatus, lookAtBoot };
}

/**
 * While servers of a paced cloud hold boot slots, the feed lists every PACED_TICK_MS, half its boot
 * tick, but not before the first boot in progress can have ended, by the quickest recent boot (a
 * list before that finds nothing new). With creates waiting, each list that sees a boot end lets
 * one go, so every slot turns a quarter second sooner on average. Once none waits, the burst's
 * last boots are told as soon as its first ones were, instead of a boot tick late; but only until
 * the first of them is PACED_TAIL_MS overdue (or before any boot was seen to end): a boot stuck
 * past that would otherwise double the lists for as long as it holds its slot.
 */
export function pacedDelayMs(delayMs: number, pacer: BootPacer | undefined): number {
  if (!pacer) return delayMs;
  const soonestEndMs = pacer.msUntilSoonestEnd();
  const tailDue = soonestEndMs !== undefined && soonestEndMs > -PACED_TAIL_MS;
  if (pacer.queued === 0 && !tailDue) return delayMs;
  return Math.min(delayMs, Math.max(PACED_TICK_MS, soonestEndMs ?? 0));
}

/** The boots a list saw end give their slots back (src/activities/bootPacer.ts). */
function endBoots(pacer: BootPacer | undefined, list: FeedList): void {
  if (!pacer) return;
  for (const { serverId, status } of list.settled) pacer.ended(serverId, status === 'ACTIVE');
  for (const serverId of list.gone) pacer.ended(serverId, false);
}

/** Signals each lifecycle whose server settled; a lifecycle that has ended needs telling no more. */
async function tell(workflows: ReturnType<typeof getClient>['workflow'], settled: BootSettled[]): Promise<void> {
  for (let i = 0; i < settled.length; i += SIGNALS_IN_FLIGHT) {
    await Promise.all(
      settled.slice(i, i + SIGNALS_IN_FLIGHT).map(async ({ workflowId, serverId, status, seenAt }) => {
        const change: ServerStatusChange = { serverId, status, seenAt: new Date(seenAt).toISOString() };
        try {
          await workflows.withDeadline(Date.now() + SIGNAL_TIMEOUT_MS, () => workflows.getHandle(workflowId).signal<[ServerStatusChange]>(SERVER_STATUS_SIGNAL, change));
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      }),
    );
  }
}

function cursorOf(details: unknown): number | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const { cursor } = details as { cursor?: unknown };
  const at = typeof cursor === 'string' ? Date.parse(cursor) : Number.NaN;
  return Number.isNaN(at) ? undefined : at;
}
