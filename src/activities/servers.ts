import { activityInfo, cancellationSignal, getClient, heartbeat, log } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { isOpenStackError, type OpenStackClient, type Server } from '../openstack/index.js';
import type { WatchOutcome } from '../openstack/serverWatcher.js';
import { PROMPT_CREATE_BUDGET_MS, PROMPT_DELETE_WAIT_MS } from '../workflows/promptTries.js';
import { cloudKey } from '../workflows/searchAttributes.js';
import type { BlockDeviceSpec, WorkerRef } from '../workflows/types.js';
import type { CloudRegistry, CloudShare } from './cloudRegistry.js';
import { MAX_HOLD_MS } from './bootPacer.js';
import { asFailure, cloudCall } from './failures.js';
import { lookUntilGone, type GoneWaitOptions } from './goneWait.js';
import type { MissingNotifier } from './notify.js';
import { OWNER_KEYS } from './ownerKeys.js';
import { buildServerRequest, type ResolvedNic } from './serverRequest.js';
import { FAILURE_TYPES } from '../contract/names.js';

export interface ServerOwner {
  workflowId: string;
  runId: string;
  /** The launch number: 1 for the first server of a run, 2 for its replacement, ... */
  attempt: number;
}

export interface CreateServerInput extends WorkerRef {
  serverName: string;
  imageId?: string;
  /** A flavor id or name. */
  flavor: string;
  blockDevices?: BlockDeviceSpec[];
  meta: Record<string, string>;
  novaArgs?: Record<string, unknown>;
  clientVersion: string;
  owner: ServerOwner;
  /** Set when a first try in the workflow task may have posted (see `createServerPromptly`). */
  earlierTry?: EarlierTry;
  /** When the cloud told that first try to come back (its Retry-After), in epoch ms: the create waits for it. */
  notBefore?: number;
}

/**
 * How a first try at a create ended: its server, or why it fell short, whether a POST went out,
 * and when the cloud said to try again, if it did.
 */
export type PromptCreate = { server: CreatedServer } | { shortBy: string; earlierTry?: EarlierTry; notBefore?: number };

/** The first try's input: the create's, and when the workflow task it is tried in began and may last. */
export interface PromptCreateInput extends CreateServerInput {
  /** In this worker process's clock (when the task's first local activity was asked for). */
  taskStartedAt: number;
  /** The lifecycle's workflow task timeout. */
  taskTimeoutMs: number;
}

/** What sets a create attempt apart from the first try in the workflow task. */
interface CreateHow {
  signal: AbortSignal;
  /** Look for an earlier POST's server before posting, until this time (epoch ms; 0: once). */
  lookFirstUntil?: number;
  /** How long to wait for a boot slot and for a create slot (0: only one free at once). */
  slotWaitMs: number;
  /** Told right before the POST goes out. */
  posting(sentAt: number): void;
  /** Told when the POST failed; may find the server all the same. */
  postFailed(error: unknown, sentAt: number): Promise<Server | undefined>;
}

/** A create tried before, whose POST's server may exist: the next looks for it before it posts. */
export interface EarlierTry {
  /** When that POST was sent, if Nova never answered it: its server may still appear until IN_FLIGHT_WAIT_MS after. Absent: look once. */
  postedAt?: number;
}

export interface CreatedServer {
  id: string;
  name: string;
  /** True when an earlier try of this step had already created it. */
  adopted: boolean;
}

export interface ServerRef extends WorkerRef {
  serverId: string;
}

export interface WaitForActiveInput extends ServerRef {
  clientVersion: string;
  /** ISO time after which the boot counts as failed; fixed by the workflow so retries keep it. */
  deadline: string;
}

export interface ServerActivityOptions {
  /**
   * The installation that owns the servers, from the worker process's config: kept out of the
   * workflow input so that running lifecycles and their histories stay as they are.
   */
  deployment: string;
  /** Where a server that cannot be deleted for `undeletableAfterMs` is reported. */
  notifier?: MissingNotifier;
  /** The worker's `notify_on_missing`, while it is configured. */
  recipientsOf?: (workerName: string) => string[];
  /** Counts each such report (the worker's `servers_undeletable` metric). */
  onUndeletable?: (workerName: string) => void;
  /** How long a delete may fail before it is reported; default 30 minutes. */
  undeletableAfterMs?: number;
  /** How long a POST without an answer is given to show its server; default IN_FLIGHT_WAIT_MS. */
  inFlightWaitMs?: number;
  /** How long a create waits for a create slot before its attempt fails; default CREATE_SLOT_WAIT_MS. */
  createSlotWaitMs?: number;
}

/** What the delete did, beyond deleting: for the lifecycle's status. */
export interface DeleteOutcome {
  /** The attempt that finished it: 1 when the first try went through. */
  attempts: number;
  /** When the delete was reported as stuck, if it was. */
  undeletableReportedAt?: string;
  /** Anything unusual about how it was done. */
  note?: string;
}

/** What a delete keeps across its attempts, in its heartbeat details. */
interface DeleteProgress {
  status?: string;
  undeletableReportedAt?: string;
}

/** A delete that fails this long is reported once, and goes on. */
export const UNDELETABLE_AFTER_MS = 30 * 60_000;
/**
 * How long after a POST that got no answer its server may still appear: nova-api finishes a
 * request whose client went away. A retry posts again only after looking for that long.
 */
export const IN_FLIGHT_WAIT_MS = 60_000;
const IN_FLIGHT_POLL_MS = 2_000;
/** An attempt stops its own work this long before its start-to-close timeout. */
const ATTEMPT_MARGIN_MS = 5_000;
const DESCRIBE_TIMEOUT_MS = 10_000;

/** The SDK extends a workflow task whose local activities pass this share of its timeout. */
const TASK_EXTENDED_AT = 0.8;
/** A first try in the workflow task ends this long before that point: the task began a little before its first local activity was asked for. */
const TASK_MARGIN_MS = 2_000;
/** Less time than this left in the task: the first try is not worth a POST it may have to abandon. */
const MIN_PROMPT_CREATE_MS = 1_000;

const GiB = 1024 ** 3;
const CONSOLE_TAIL_LINES = 30;
/** Heartbeats are local calls (the SDK sends them on at most every 80% of the heartbeat timeout): cheap at any number of waits. */
const HEARTBEAT_EVERY_MS = 5000;
/** A delete's wait for its server to go ends this long before the attempt's start-to-close timeout, in the activity's own hands. */
const GONE_WAIT_MARGIN_MS = 30_000;
/**
 * A create waits this long at most for one of its cloud's `max_concurrent_creates` slots; the
 * activity's own retries follow. With the wait for room under `max_servers` it stays well inside
 * the create activity's 2-minute start-to-close timeout.
 */
const CREATE_SLOT_WAIT_MS = 40_000;
/** A DELETE accepted this recently is waited for, not sent again (see `AcceptedDeletes`). */
const ACCEPTED_DELETE_FRESH_MS = 60_000;
/** Accepted DELETEs remembered, the oldest dropped first. */
const REMEMBERED_DELETES = 10_000;
/** setTimeout's limit: a later boot deadline is as good as none for one activity attempt. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The servers whose DELETE Nova accepted from this process, and when: the next attempt at a delete
 * within ACCEPTED_DELETE_FRESH_MS of it waits for the server to go instead of sending another.
 */
class AcceptedDeletes {
  private readonly at = new Map<string, number>();

  accepted(serverId: string): void {
    this.at.delete(serverId);
    this.at.set(serverId, Date.now());
    if (this.at.size > REMEMBERED_DELETES) this.at.delete(this.at.keys().next().value!);
  }

  /** Whether the server's DELETE was accepted within ACCEPTED_DELETE_FRESH_MS; the next asks again either way. */
  takeFresh(serverId: string): boolean {
    const at = this.at.get(serverId);
    this.at.delete(serverId);
    return at !== undefined && Date.now() - at < ACCEPTED_DELETE_FRESH_MS;
  }
}

export function serverActivities(clouds: CloudRegistry, { deployment, notifier, recipientsOf, onUndeletable, undeletableAfterMs = UNDELETABLE_AFTER_MS, inFlightWaitMs = IN_FLIGHT_WAIT_MS, createSlotWaitMs = CREATE_SLOT_WAIT_MS }: ServerActivityOptions) {
  const acceptedDeletes = new AcceptedDeletes();
  async function createServer(input: CreateServerInput): Promise<CreatedServer> {
    const info = activityInfo();
    // This attempt's own work ends before Temporal times it out, so that it never overlaps the next.
    const signal = info.startToCloseTimeoutMs > ATTEMPT_MARGIN_MS ? AbortSignal.any([cancellationSignal(), AbortSignal.timeout(info.startToCloseTimeoutMs - ATTEMPT_MARGIN_MS)]) : cancellationSignal();
    // Only a retry, or the create after a first try in the workflow task, can follow a POST whose
    // answer was lost: a first attempt has nothing to adopt (names are per run and launch), and
    // skips a list call per server.
    const earlierTry = info.attempt > 1 ? { postedAt: postedAtOf(info.heartbeatDetails) ?? input.earlierTry?.postedAt } : input.earlierTry;
    // The first try was told to come back later (429 or 503 with Retry-After): so is this attempt,
    // as a retry of its own would be (the retry policy's delay, by the failure's nextRetryDelay).
    const waitMs = info.attempt === 1 && input.notBefore !== undefined ? input.notBefore - Date.now() : 0;
    if (waitMs > info.startToCloseTimeoutMs - ATTEMPT_MARGIN_MS) {
      throw ApplicationFailure.create({ message: `the cloud asked the create to wait ${Math.ceil(waitMs / 1000)} s (Retry-After)`, type: 'OpenStackRateLimited', nextRetryDelay: waitMs });
    }
    if (waitMs > 0) await sleep(waitMs, undefined, { signal });
    return create(input, {
      signal,
      lookFirstUntil: earlierTry && (earlierTry.postedAt === undefined ? 0 : earlierTry.postedAt + inFlightWaitMs),
      slotWaitMs: createSlotWaitMs,
      // Said before the POST: a later attempt then knows one may be in flight.
      posting: (postedAt) => heartbeat({ postedAt }),
      async postFailed(error, sentAt) {
        // Nova answered (even with a 5xx): it is done with the request, and any server it made is listed already.
        heartbeat({ postedAt: statusOf(error) === undefined ? sentAt : undefined });
        if (statusOf(error) !== undefined || cancellationSignal().aborted) return undefined;
        return cloudCall(() => lookForOwnedServer(clouds.forWorker(input.workerName), input, sentAt + inFlightWaitMs, { signal })).catch(() => undefined);
      },
    });
  }

  /**
   * The lifecycle's first try at a create, within its first workflow task: only with a slot of
   * each cap free at once, never retried here, and over before the SDK could extend that task
   * (which writes the task's commands so far and leaves this try without a marker; a process that
   * picked the lifecycle up after that would try again). A try that falls short answers why, and
   * whether a POST went out, for the create activity that takes over to adopt its server; one
   * that the cloud refused for good fails as the activity would.
   */
  async function createServerPromptly(input: PromptCreateInput): Promise<PromptCreate> {
    const { taskStartedAt, taskTimeoutMs, ...createInput } = input;
    const endBy = taskStartedAt + taskTimeoutMs * TASK_EXTENDED_AT - TASK_MARGIN_MS;
    const budget = Math.min(PROMPT_CREATE_BUDGET_MS, endBy - Date.now());
    if (budget < MIN_PROMPT_CREATE_MS) return { shortBy: `too late in the workflow task to try (${Math.max(0, budget)} ms left of it)` };
    const signal = AbortSignal.any([cancellationSignal(), AbortSignal.timeout(budget)]);
    let sent: { at: number; answered: boolean } | undefined;
    try {
      const server = await create(createInput, {
        signal,
        slotWaitMs: 0,
        posting: () => undefined,
        async postFailed(error, sentAt) {
          sent = { at: sentAt, answered: statusOf(error) !== undefined };
          return undefined;
        },
      });
      return { server };
    } catch (error) {
      const failure = asFailure(error);
      // Refused for good (a bad request, an unknown flavor, no quota): the activity would hear the same, so the launch hears it now.
      if (failure instanceof ApplicationFailure && failure.nonRetryable) throw failure;
      const shortBy = failure instanceof Error ? failure.message : String(failure);
      const retryAfterMs = failure instanceof ApplicationFailure && typeof failure.nextRetryDelay === 'number' ? failure.nextRetryDelay : undefined;
      const notBefore = retryAfterMs === undefined ? {} : { notBefore: Date.now() + retryAfterMs };
      if (!sent) return { shortBy, ...notBefore };
      // A POST that Nova answered is over: a look finds any server it made. One without an answer may still make one.
      return { shortBy, earlierTry: sent.answered ? {} : { postedAt: sent.at }, ...notBefore };
    }
  }

  /** A create's steps, from the look for an earlier POST's server to the POST and the slots it holds. */
  async function create(input: CreateServerInput, how: CreateHow): Promise<CreatedServer> {
    const cloud = clouds.forWorker(input.workerName);
    const share = clouds.shareFor(input.workerName);
    const { signal } = how;
    const options = { signal };
    if (how.lookFirstUntil !== undefined) {
      // An earlier POST may still be inside Nova (nova-api finishes a request whose client went
      // away): look for its server until it would have appeared, then post again.
      const existing = await cloudCall(() => lookForOwnedServer(cloud, input, how.lookFirstUntil!, options));
      if (existing) return { id: existing.id, name: existing.name, adopted: true };
    }
    const flavor = await cloudCall(() => share.lookups.get(`flavor:${input.flavor}`, () => cloud.compute.getFlavor(input.flavor), signal));
    const blockDevices = input.blockDevices && (await cloudCall(() => withVolumeSizes(cloud, share, input.blockDevices!, options)));
    const novaArgs = input.novaArgs ?? {};
    const nics = await cloudCall(() => resolveNics(cloud, share, novaArgs.nics as NicsArg | undefined, options));
    const request = buildServerRequest({
      name: input.serverName,
      imageId: input.imageId,
      flavorId: flavor.id,
      blockDevices,
      metadata: {
        ...input.meta,
        [OWNER_KEYS.deployment]: deployment,
        [OWNER_KEYS.workflowId]: input.owner.workflowId,
        [OWNER_KEYS.runId]: input.owner.runId,
        [OWNER_KEYS.attempt]: String(input.owner.attempt),
      },
      novaArgs,
      nics,
    });
    // The boot slot first: a create holding a POST slot while it waits for a boot to end would starve the others.
    const bootSlotTurn = share.booting?.slots.acquire(
      how.slotWaitMs,
      () => ApplicationFailure.retryable(`no boot slot free within ${how.slotWaitMs / 1000} s (max_booting ${String(share.limits.maxBooting)} of ${share.name}: ${share.booting!.booting} servers booting from this worker process, ${share.booting!.size} allowed now)`, FAILURE_TYPES.createSlotTimeout),
      signal,
    );
    if (how.slotWaitMs > 0 && share.booting && share.booting.queued > 0) clouds.bootNews(share.name, { kind: 'create-waiting' });
    const bootSlot = await bootSlotTurn;
    let bootSlotHanded = false;
    const booted = (serverId: string, sentAt: number): void => {
      if (bootSlot) {
        share.booting!.hold(serverId, sentAt, bootSlot);
        bootSlotHanded = true;
        followBoot(input.workerName, serverId, share);
      }
      // After the hold: the status watch sets its next list by the boots that hold slots.
      clouds.bootNews(share.name, { kind: 'started', serverId });
    };
    const release = await share.createSlots.acquire(
      how.slotWaitMs,
      () => ApplicationFailure.retryable(`no create slot free within ${how.slotWaitMs / 1000} s (max_concurrent_creates ${share.limits.maxConcurrentCreates} of ${share.name}, of which this worker process has ${share.createSlots.size})`, FAILURE_TYPES.createSlotTimeout),
      signal,
    ).catch((error: unknown) => {
      bootSlot?.();
      throw error;
    });
    try {
      const reserved = await share.cap?.reserve(signal);
      const sentAt = Date.now();
      how.posting(sentAt);
      try {
        const created = await cloudCall(() => cloud.compute.createServer(request.server, { ...options, schedulerHints: request.schedulerHints }));
        reserved?.(true);
        clouds.watcherFor(input.workerName).remember(created.id, sentAt);
        booted(created.id, sentAt);
        return { id: created.id, name: input.serverName, adopted: false };
      } catch (error) {
        // Without an answer from Nova the server may exist all the same: count it until the next recount says otherwise.
        reserved?.(!refused(error));
        const late = await how.postFailed(error, sentAt);
        if (late) {
          clouds.watcherFor(input.workerName).remember(late.id, sentAt);
          booted(late.id, sentAt);
          return { id: late.id, name: late.name, adopted: true };
        }
        throw error;
      }
    } catch (error) {
      // Nova refused what a look-up gave (a flavor, image or network gone since): look again next time.
      if ([400, 404].includes(statusOf(error) ?? 0)) share.lookups.clear();
      throw error;
    } finally {
      release();
      // A create that made no server gives its boot slot back (one that did handed it to the server).
      if (!bootSlotHanded) bootSlot?.();
    }
  }

  /**
   * Ends the server's hold on its boot slot when its boot ends. The fleet's status watcher does
   * that from its lists when it runs in this process (src/activities/statusWatch.ts); otherwise
   * this process's own poller watches the server.
   */
  function followBoot(workerName: string, serverId: string, share: CloudShare): void {
    const pacer = share.booting!;
    if (clouds.goneNotices(share.name).following) return;
    clouds
      .watcherFor(workerName)
      .watch(serverId, 'active', { signal: AbortSignal.timeout(MAX_HOLD_MS) })
      .then((outcome) => pacer.ended(serverId, outcome.kind === 'settled' && outcome.server.status === 'ACTIVE'))
      .catch(() => pacer.ended(serverId, false));
  }

  /**
   * Waits on the cloud's shared status poller, not by polling this one server: one list call per
   * tick serves every boot of the cloud. At the deadline the server is looked at once more, so
   * the failure says what state it was left in.
   */
  async function waitForActive({ workerName, serverId, deadline }: WaitForActiveInput): Promise<void> {
    const cloud = clouds.forWorker(workerName);
    const watcher = clouds.watcherFor(workerName);
    const cancelled = cancellationSignal();
    const untilDeadline = AbortSignal.timeout(Math.min(MAX_TIMER_MS, Math.max(0, Date.parse(deadline) - Date.now())));
    let outcome: WatchOutcome | 'deadline';
    try {
      outcome = await whileHeartbeating(
        () => watcher.statusOf(serverId),
        () => cloudCall(() => watcher.watch(serverId, 'active', { signal: AbortSignal.any([cancelled, untilDeadline]) })),
      );
    } catch (error) {
      if (cancelled.aborted || !untilDeadline.aborted) throw error;
      outcome = 'deadline';
    }
    if (outcome === 'deadline') {
      const server = await cloudCall(() => cloud.compute.getServer(serverId, { signal: cancelled }));
      heartbeat(server?.status);
      return judgeBoot(cloud, serverId, server, deadline);
    }
    return judgeBoot(cloud, serverId, outcome.kind === 'gone' ? undefined : outcome.server);
  }

  /**
   * Deletes and then waits until Nova no longer shows the server: told by the fleet's status
   * watcher when it runs in this process (src/activities/goneNotices.ts), otherwise by reading the
   * server itself (src/activities/goneWait.ts); a 404 counts as done. While Nova has the server this never gives up: every failure
   * (a lock's 409, a 400 or 403 on a server in an odd state, an unusable page of the status list,
   * Keystone down) is retried with the lifecycle's capped backoff. Past `undeletableAfterMs` it is
   * reported once (notification and metric), and retried still.
   */
  async function deleteServer({ workerName, serverId }: ServerRef): Promise<DeleteOutcome> {
    const info = activityInfo();
    const progress = deleteProgressOf(info.heartbeatDetails);
    const signal = cancellationSignal();
    try {
      let status = 'deleting';
      const note = await deleteAndWaitGone(workerName, serverId, {
        signal,
        until: Date.now() + Math.max(0, info.startToCloseTimeoutMs - GONE_WAIT_MARGIN_MS),
        onStatus: (seen) => (status = seen),
        keepAlive: (wait) => whileHeartbeating(() => ({ ...progress, status }), wait),
      });
      return { attempts: info.attempt, ...(progress.undeletableReportedAt ? { undeletableReportedAt: progress.undeletableReportedAt } : {}), ...(note ? { note } : {}) };
    } catch (error) {
      if (signal.aborted) throw error;
      const stuckMs = Date.now() - info.scheduledTimestampMs;
      // The reaper's deletes are bounded (its next run tries again): only a lifecycle's delete is reported.
      if (!progress.undeletableReportedAt && stuckMs >= undeletableAfterMs && info.workflowType !== 'orphanReaper') {
        progress.undeletableReportedAt = new Date().toISOString();
        heartbeat(progress);
        await reportUndeletable(workerName, serverId, stuckMs, error);
      }
      throw keepTrying(error, serverId);
    }
  }

  /**
   * The lifecycle's first try at a delete, a local activity in the workflow task that decides it:
   * the DELETE and a wait of at most PROMPT_DELETE_WAIT_MS for the server to go. Most deletes end
   * in that time (about 1 s on a real Nova); one that does not, or any failure, fails this try, and
   * the lifecycle hands the delete to `deleteServer`, which goes on until the server is gone.
   */
  async function deleteServerPromptly({ workerName, serverId }: ServerRef): Promise<DeleteOutcome> {
    const note = await deleteAndWaitGone(workerName, serverId, {
      signal: cancellationSignal(),
      until: Date.now() + PROMPT_DELETE_WAIT_MS,
      onStatus: () => undefined,
      keepAlive: (wait) => wait(),
    });
    return { attempts: 1, ...(note ? { note } : {}) };
  }

  /**
   * Sends the DELETE and waits until Nova no longer shows the server: told by the fleet's status
   * watcher when it runs in this process (src/activities/goneNotices.ts), otherwise by reading the
   * server itself (src/activities/goneWait.ts); a 404 counts as done. A server still there at
   * `until` throws. Returns a note when the server was reached in an unusual way. A DELETE that
   * Nova accepted from this process moments ago (the lifecycle's first try, which fell short) is
   * not sent again by the next attempt, which only waits: on a busy Nova the server is on its way.
   */
  async function deleteAndWaitGone(
    workerName: string,
    serverId: string,
    { signal, until, onStatus, keepAlive }: GoneWaitOptions & { keepAlive(wait: () => Promise<void>): Promise<void> },
  ): Promise<string | undefined> {
    const reach = await reachFor(workerName, serverId, signal);
    if (reach === 'not-found') return `worker "${workerName}" is no longer configured; a worker on its cloud found server ${serverId} gone`;
    const nova = clouds.forWorker(reach).compute;
    const note = reach === workerName ? undefined : `worker "${workerName}" is no longer configured: deleted through worker "${reach}", which reaches the same server`;
    if (!acceptedDeletes.takeFresh(serverId)) {
      const sent = await cloudCall(() => nova.deleteServer(serverId, { signal }));
      // A server deleted before its boot ended boots no longer: its slot frees now, not when the lists show it gone.
      clouds.shareFor(reach).booting?.ended(serverId, false);
      if (sent === 'already-gone') return note;
      acceptedDeletes.accepted(serverId);
    }
    const notices = clouds.goneNoticesFor(reach);
    await keepAlive(async () => {
      if (await notices.waitGone(serverId, { signal, until })) return;
      await lookUntilGone(serverId, (options) => cloudCall(() => nova.getServer(serverId, options)), { signal, until, onStatus });
    });
    return note;
  }

  /**
   * Which configured worker's client reaches the server: its own or, once its definition is gone
   * from the config, one configured for the same cloud and project (the lifecycle's
   * `LatentWorkerCloud`), whose 404 then means gone. When no configured worker has that cloud the
   * server is looked for by id (a UUID) on every configured cloud; found nowhere, it may still be
   * on the cloud no longer configured, so the delete keeps trying, loudly, rather than walk away.
   */
  async function reachFor(workerName: string, serverId: string, signal: AbortSignal): Promise<string | 'not-found'> {
    if (clouds.hasWorker(workerName)) return workerName;
    const label = await lifecycleCloud();
    const sameCloud = label === undefined ? undefined : clouds.workerForCloudLabel(label);
    if (sameCloud) {
      const server = await cloudCall(() => clouds.forWorker(sameCloud).compute.getServer(serverId, { signal }));
      return server && server.status !== 'DELETED' ? sameCloud : 'not-found';
    }
    const unanswered: string[] = [];
    for (const { cloud, workerName: via } of clouds.distinctClouds()) {
      try {
        const server = await clouds.forWorker(via).compute.getServer(serverId, { signal });
        if (server && server.status !== 'DELETED') return via;
      } catch (error) {
        unanswered.push(`${cloud}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw ApplicationFailure.retryable(
      `worker "${workerName}" is no longer configured, and no configured worker reaches its cloud ${label ?? '(unknown)'}: ` +
        `server ${serverId} is on none of the configured clouds${unanswered.length > 0 ? ` that answered (${unanswered.join('; ')})` : ''}. ` +
        'The delete goes on until a worker for that cloud is configured again, or the server is gone',
      'WorkerDefinitionGone',
    );
  }

  /** The lifecycle's `LatentWorkerCloud` search attribute (auth URL and project, never a credential). */
  async function lifecycleCloud(): Promise<string | undefined> {
    const execution = activityInfo().workflowExecution;
    if (!execution) return undefined;
    const workflows = getClient().workflow;
    const description = await workflows.withDeadline(Date.now() + DESCRIBE_TIMEOUT_MS, () => workflows.getHandle(execution.workflowId, execution.runId).describe());
    return description.typedSearchAttributes.get(cloudKey);
  }

  async function reportUndeletable(workerName: string, serverId: string, stuckMs: number, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    log.error(`server ${serverId} of worker "${workerName}" could not be deleted for ${Math.round(stuckMs / 60_000)} min; still trying: ${reason}`, { serverId });
    onUndeletable?.(workerName);
    const info = activityInfo();
    try {
      await notifier?.notifyMissing({
        kind: 'undeletable',
        workerName,
        serverId,
        serverName: '',
        status: 'unknown',
        recipients: recipientsOf?.(workerName) ?? [],
        missingTimeoutSeconds: 0,
        stuckSeconds: Math.round(stuckMs / 1000),
        lastError: reason,
        workflowId: info.workflowExecution?.workflowId ?? 'unknown',
        cloud: clouds.hasWorker(workerName) ? clouds.cloudLabelFor(workerName) : 'unknown (worker no longer configured)',
        at: new Date(info.scheduledTimestampMs).toISOString(),
      });
    } catch (notifyError) {
      // The report is best effort: the delete itself must go on.
      log.warn(`the report that server ${serverId} cannot be deleted was not delivered: ${notifyError instanceof Error ? notifyError.message : String(notifyError)}`);
    }
  }

  return { createServer, createServerPromptly, waitForActive, deleteServer, deleteServerPromptly };
}

/** ACTIVE: done. ERROR, gone, or (with a deadline) anything else: the typed failure the workflow acts on. */
export async function judgeBoot(cloud: OpenStackClient, serverId: string, server: Server | undefined, deadline?: string): Promise<void> {
  if (!server) throw ApplicationFailure.nonRetryable(`server ${serverId} disappeared while booting`, FAILURE_TYPES.serverVanished);
  if (server.status === 'ACTIVE') return;
  if (server.status === 'ERROR') {
    const fault = server.fault?.message ?? 'no fault given';
    // A scheduler that found no room reports it as the fault of an ERROR server.
    const type = /quota|no valid host/i.test(fault) ? FAILURE_TYPES.serverQuotaExceeded : FAILURE_TYPES.serverError;
    throw ApplicationFailure.create({
      message: `server ${serverId} went to ERROR while booting: ${fault}`,
      type,
      nonRetryable: true,
      details: [{ status: server.status, fault, consoleTail: await consoleTail(cloud, serverId) }],
    });
  }
  throw ApplicationFailure.create({
    message: `server ${serverId} was still ${server.status} at its boot deadline ${deadline}`,
    type: FAILURE_TYPES.bootTimeout,
    nonRetryable: true,
    details: [{ status: server.status, consoleTail: await consoleTail(cloud, serverId) }],
  });
}

/**
 * Runs `wait` while heartbeating the latest status, so that a crash is noticed and a cancellation
 * delivered. The first beat comes after one interval, not at once: the heartbeat timeout counts
 * from the attempt's start, so it loses nothing, and a wait that ends sooner (most deletes) costs
 * Temporal no write (each heartbeat it receives is one; test/delete-heartbeat.test.ts).
 */
async function whileHeartbeating<T>(status: () => unknown, wait: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => heartbeat(status()), HEARTBEAT_EVERY_MS);
  try {
    return await wait();
  } finally {
    clearInterval(timer);
  }
}

/** Heartbeat details of an earlier attempt: a status string from older code, or a DeleteProgress. */
function deleteProgressOf(details: unknown): DeleteProgress {
  if (typeof details !== 'object' || details === null) return {};
  const { undeletableReportedAt } = details as DeleteProgress;
  return typeof undeletableReportedAt === 'string' ? { undeletableReportedAt } : {};
}

/**
 * Any failure of a delete, as one the retry policy retries: a server that exists must go, and
 * what stops it now (a lock, a task in progress, an odd state, an outage) passes.
 */
function keepTrying(error: unknown, serverId: string): unknown {
  const failure = asFailure(error);
  if (!(failure instanceof ApplicationFailure) || !failure.nonRetryable) return failure;
  return ApplicationFailure.create({
    message: `${failure.message} (the delete of server ${serverId} is retried until Nova no longer has it)`,
    type: failure.type ?? undefined,
    nonRetryable: false,
    nextRetryDelay: failure.nextRetryDelay ?? undefined,
    details: failure.details ?? undefined,
    cause: failure.cause,
  });
}

/** Nova answered, and said no: nothing was made. */
function refused(error: unknown): boolean {
  const status = statusOf(error);
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** The HTTP status of a failed cloud call, as `cloudCall` recorded it. */
function statusOf(error: unknown): number | undefined {
  if (isOpenStackError(error)) return error.status;
  return error instanceof ApplicationFailure ? (error.details?.[0] as { status?: number } | undefined)?.status : undefined;
}

/** A create whose response was lost still left a server: find it by its name and owner. */
async function findOwnedServer(cloud: OpenStackClient, input: CreateServerInput, options: { signal: AbortSignal }): Promise<Server | undefined> {
  const sameName = await cloud.compute.listServers({ name: `^${escapeRegExp(input.serverName)}$` }, options);
  return sameName.find((server) => server.metadata?.[OWNER_KEYS.runId] === input.owner.runId && server.status !== 'DELETED');
}

/**
 * Looks for the server once, and again every few seconds until `until` (epoch ms) while a POST
 * sent earlier may still be making it; stops early when this attempt's time runs out.
 */
async function lookForOwnedServer(cloud: OpenStackClient, input: CreateServerInput, until: number, options: { signal: AbortSignal }): Promise<Server | undefined> {
  for (;;) {
    const found = await findOwnedServer(cloud, input, options);
    if (found || Date.now() >= until) return found;
    await sleep(Math.min(IN_FLIGHT_POLL_MS, until - Date.now()), undefined, { signal: options.signal });
  }
}

/** When an earlier attempt sent its POST, from its heartbeat details; undefined if it sent none. */
function postedAtOf(details: unknown): number | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const { postedAt } = details as { postedAt?: unknown };
  return typeof postedAt === 'number' ? postedAt : undefined;
}

/**
 * The seed's rule for a volume without a size: as large as its source, rounded up to whole GiB
 * (an image's bytes, or its min_disk if larger; a volume's or snapshot's own size).
 */
async function withVolumeSizes(cloud: OpenStackClient, share: CloudShare, devices: BlockDeviceSpec[], options: { signal: AbortSignal }): Promise<BlockDeviceSpec[]> {
  return Promise.all(
    devices.map(async (device) => {
      if (device.destinationType !== 'volume' || device.volumeSize !== undefined) return device;
      return { ...device, volumeSize: await sourceSizeGiB(cloud, share, device, options) };
    }),
  );
}

async function sourceSizeGiB(cloud: OpenStackClient, share: CloudShare, device: BlockDeviceSpec, options: { signal: AbortSignal }): Promise<number> {
  const missing = (what: string) => ApplicationFailure.nonRetryable(`block device ${device.uuid}: no ${what} with that id to take volume_size from`, FAILURE_TYPES.blockDeviceSourceNotFound);
  if (device.sourceType === 'image') {
    const image = await share.lookups.get(`image:${device.uuid}`, () => cloud.image.getImage(device.uuid), options.signal);
    if (!image) throw missing('image');
    return Math.max(Math.ceil((image.size ?? 0) / GiB), image.min_disk ?? 0, 1);
  }
  const source = device.sourceType === 'volume' ? await cloud.blockStorage.getVolume(device.uuid, options) : await cloud.blockStorage.getSnapshot(device.uuid, options);
  if (!source) throw missing(device.sourceType);
  return source.size;
}

type NicsArg = 'none' | 'auto' | ({ 'net-name'?: string } & ResolvedNic)[];

/** novaclient's `nics`, with `net-name` looked up in Neutron (the seed: "net-id or net-name"). */
async function resolveNics(cloud: OpenStackClient, share: CloudShare, nics: NicsArg | undefined, options: { signal: AbortSignal }): Promise<'none' | 'auto' | ResolvedNic[] | undefined> {
  if (nics === undefined || typeof nics === 'string') return nics;
  const networkId = async (name: string) => (await share.lookups.get(`network:${name}`, () => cloud.network.findNetworkByName(name), options.signal)).id;
  return Promise.all(nics.map(async ({ 'net-name': netName, ...nic }) => (netName ? { ...nic, 'net-id': await networkId(netName) } : nic)));
}

/** The end of the console log, for a human deciding why a server failed; never fatal. */
export async function consoleTail(cloud: OpenStackClient, serverId: string): Promise<string | undefined> {
  try {
    return await cloud.compute.getConsoleOutput(serverId, { length: CONSOLE_TAIL_LINES, signal: cancellationSignal() });
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
