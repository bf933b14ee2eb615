import { setTimeout as delay } from 'node:timers/promises';
import proto from '@temporalio/proto';
import { Client, Connection, isGrpcDeadlineError, WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { ConfigError, workerOrThrow, type LoadedConfig } from '../config/load.js';
import { inputProblems } from '../contract/inputSchema.js';
import { attachedSignal, buildFinishedSignal, buildStartedSignal, releaseSignal, statusQuery } from '../workflows/messages.js';
import { cloudKey, deploymentKey, phaseKey, serverIdKey, workerNameKey } from '../workflows/searchAttributes.js';
import type { latentWorkerLifecycle } from '../workflows/index.js';
import type { LifecycleResult, LifecycleStatus, Phase, WorkerSpec } from '../workflows/types.js';
import { LIFECYCLE_WORKFLOW_TYPE, PHASES, workflowIdFor } from '../contract/names.js';
import { connectOrExplain } from './connectionDiagnosis.js';
import { currentRunOf } from './runChain.js';
import { connectionOptions, type TemporalSettings } from './settings.js';

export type LifecycleHandle = WorkflowHandle<typeof latentWorkerLifecycle>;
export type StartedLifecycle = WorkflowHandleWithFirstExecutionRunId<typeof latentWorkerLifecycle>;

export interface LifecycleSummary {
  workerName: string;
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, ... */
  execution: string;
  phase?: string;
  serverId?: string;
  startTime: Date;
}

export interface SubstantiateOptions {
  /** Build properties: fill `%(prop:NAME)s` in the definition, and are kept in the lifecycle's input. */
  properties?: Record<string, string>;
}

export interface WatchOptions {
  /** How often the lifecycle is asked; default 500 ms. */
  intervalMs?: number;
  /** Stops the watch early. */
  signal?: AbortSignal;
}

/** Why a running lifecycle is not moving: no worker takes its tasks. */
export interface Unattended {
  taskQueue: string;
  /** Since when (ISO 8601); absent when no worker was ever seen on the task queue. */
  since?: string;
  reason: string;
}

/** A task that waits this long for a worker, with workers seemingly polling, is worth a word. */
const UNATTENDED_AFTER_MS = 60_000;
/** A poll lasts at most a minute: a live worker has polled within this. */
const LIVE_POLLER_MS = 70_000;

function millisOf(timestamp: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined): number {
  if (!timestamp) return 0;
  return Number(timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
}

/** The order phases happen in, so a caller can wait for "at least" a phase. */
export const PHASE_ORDER: Phase[] = [...PHASES];

export interface SignalOptions {
  /**
   * The run substantiate gave the master. The signal then reaches that lifecycle only, followed
   * across its continue-as-new hand-overs, and is refused once it has ended, rather than reaching
   * a later lifecycle of the same worker (a late `release` must not end the next substantiation).
   */
  runId?: string;
}

/**
 * Whether the lifecycle stands at `phase` or past it on the way there. A server being deleted is
 * past no serving phase: after a failed launch it is followed by another launch, after a release
 * by the end; so a wait for `waiting-for-attach` (ACTIVE) or `attached` is answered only by a
 * server that really is ACTIVE, or by the lifecycle's end (which the caller must then judge).
 */
export function hasReached(status: LifecycleStatus, phase: Phase): boolean {
  const at = PHASE_ORDER.indexOf(status.phase);
  const target = PHASE_ORDER.indexOf(phase);
  if (at < target) return false;
  return !SERVING.has(phase) || SERVING.has(status.phase);
}

const SERVING = new Set<Phase>(['waiting-for-attach', 'attached']);

export class UnknownLifecycleError extends Error {
  override name = 'UnknownLifecycleError';
  constructor(workerName: string) {
    super(`no lifecycle for worker "${workerName}" (workflow id ${workflowIdFor(workerName)})`);
  }
}

/** The lifecycle a signal was pinned to has ended: the signal was not sent. */
export class LifecycleEndedError extends Error {
  override name = 'LifecycleEndedError';
  constructor(
    readonly workerName: string,
    readonly runId: string,
    readonly execution: string,
  ) {
    super(`the lifecycle of worker "${workerName}" that run ${runId} belongs to has ended (${execution}): nothing was sent to it, nor to any later lifecycle of the worker`);
  }
}

const QUERY_TIMEOUT_MS = 10_000;
const QUERY_ATTEMPTS = 3;

/** How many times a pinned signal follows a run that closes under it before it gives up. */
const SIGNAL_FOLLOW_ATTEMPTS = 5;

/** What a CI master uses: start lifecycles, tell them what happened, and ask where they are. */
export class LatentWorkerClient {
  /**
   * @param definitions the worker definitions (a loaded config file) that `substantiate(name)`
   *   renders specs from; without them, substantiate takes rendered specs only.
   */
  constructor(
    readonly temporal: Client,
    readonly taskQueue: string,
    readonly definitions?: LoadedConfig,
  ) {}

  /** Pinned run id to the latest run found for it, so a long-lived master does not walk the chain each time. */
  private readonly followedRuns = new Map<string, string>();

  static async connect(settings: TemporalSettings, definitions?: LoadedConfig): Promise<LatentWorkerClient> {
    const connection = await connectOrExplain(settings, () => Connection.connect({ ...connectionOptions(settings), connectTimeout: '10 seconds' }));
    return new LatentWorkerClient(new Client({ connection, namespace: settings.namespace, dataConverter: settings.dataConverter }), settings.taskQueue, definitions);
  }

  /**
   * Starts a lifecycle, or joins the one already running for this worker name (so calling it twice
   * boots one server). `worker` is a name from the client's definitions, or a spec already rendered.
   * A spec that the workflow would refuse is refused here, before anything starts.
   */
  async substantiate(worker: string | WorkerSpec, { properties = {} }: SubstantiateOptions = {}): Promise<StartedLifecycle> {
    const spec = typeof worker === 'string' ? this.specFor(worker, properties) : worker;
    const problems = inputProblems({ spec, properties });
    if (problems.length > 0) throw new ConfigError(`worker "${spec.name}": invalid lifecycle input: ${problems.join('; ')}`);
    return this.temporal.workflow.start<typeof latentWorkerLifecycle>(LIFECYCLE_WORKFLOW_TYPE, {
      workflowId: workflowIdFor(spec.name),
      taskQueue: this.taskQueue,
      args: [{ spec, properties }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: workerNameKey, value: spec.name },
        { key: cloudKey, value: spec.cloud },
        ...(this.definitions ? [{ key: deploymentKey, value: this.definitions.deployment }] : []),
      ],
      staticSummary: `Latent worker ${spec.name}: flavor ${spec.flavor}, image ${spec.image}`,
    });
  }

  private specFor(workerName: string, properties: Record<string, string>): WorkerSpec {
    if (!this.definitions) throw new ConfigError(`substantiate("${workerName}") needs worker definitions: pass a loaded config to LatentWorkerClient.connect, or a rendered spec`);
    return workerOrThrow(this.definitions, workerName).specFor(properties);
  }

  handle(workerName: string): LifecycleHandle {
    return this.temporal.workflow.getHandle<typeof latentWorkerLifecycle>(workflowIdFor(workerName));
  }

  async attached(workerName: string, options?: SignalOptions): Promise<void> {
    await this.signal(workerName, attachedSignal, options);
  }

  /** A build started on the worker: idle time stops counting until it finishes. */
  async buildStarted(workerName: string, options?: SignalOptions): Promise<void> {
    await this.signal(workerName, buildStartedSignal, options);
  }

  /** A build finished: with build_wait_timeout 0 this releases the worker, otherwise idle time counts again. */
  async buildFinished(workerName: string, options?: SignalOptions): Promise<void> {
    await this.signal(workerName, buildFinishedSignal, options);
  }

  async release(workerName: string, options?: SignalOptions): Promise<void> {
    await this.signal(workerName, releaseSignal, options);
  }

  private async signal(workerName: string, signal: SignalDefinition, { runId }: SignalOptions = {}): Promise<void> {
    if (runId === undefined) return this.onLifecycle(workerName, () => this.handle(workerName).signal(signal));
    for (let attempt = 1; ; attempt += 1) {
      const run = await this.runningRunOf(workerName, runId);
      try {
        return await this.temporal.workflow.getHandle(workflowIdFor(workerName), run).signal(signal);
      } catch (error) {
        // The run closed between the look-up and the signal (a hand-over, or the end): look again.
        if (!(error instanceof WorkflowNotFoundError) || attempt >= SIGNAL_FOLLOW_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * The running run of the lifecycle that `runId` belongs to, following its hand-overs (continue-
   * as-new) from `runId` on; throws LifecycleEndedError once that lifecycle has closed otherwise.
   */
  async runningRunOf(workerName: string, runId: string): Promise<string> {
    const current = await this.onLifecycle(workerName, () => currentRunOf(this.temporal, workflowIdFor(workerName), this.followedRuns.get(runId) ?? runId));
    if (current.status.name !== 'RUNNING') throw new LifecycleEndedError(workerName, runId, current.status.name);
    this.followedRuns.set(runId, current.runId);
    return current.runId;
  }

  /**
   * The status query, each try bounded: a query that meets a hand-over (continue-as-new) can go
   * unanswered by the run that just closed, and is asked again of the next one.
   */
  async status(workerName: string): Promise<LifecycleStatus> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.onLifecycle(workerName, () => this.temporal.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => this.handle(workerName).query(statusQuery)));
      } catch (error) {
        if (attempt >= QUERY_ATTEMPTS || !isGrpcDeadlineError(error)) throw error;
      }
    }
  }

  async result(workerName: string): Promise<LifecycleResult> {
    return this.handle(workerName).result();
  }

  /**
   * The lifecycle's status each time its phase (or outcome) changes, from the current one to the
   * last: the iteration ends once the lifecycle has closed, with its final status. The phase is
   * read every `intervalMs` from the lifecycle's search attributes (a describe, which the Temporal
   * server answers alone), and the whole status with the `status` query only when that phase has
   * changed: a query goes on to a worker process and back, and a master waiting on many lifecycles
   * would otherwise load both with a query per lifecycle per tick. A phase shorter than the
   * interval may be skipped.
   */
  async *watch(workerName: string, { intervalMs = 500, signal }: WatchOptions = {}): AsyncGenerator<LifecycleStatus> {
    let last: string | undefined;
    let seenPhase: string | undefined;
    for (;;) {
      signal?.throwIfAborted();
      const description = await this.onLifecycle(workerName, () => this.handle(workerName).describe());
      const phase = description.typedSearchAttributes.get(phaseKey);
      if (description.status.name !== 'RUNNING' || phase === undefined || phase !== seenPhase) {
        const { status, closed } = description.status.name === 'RUNNING' ? await this.statusWhileRunning(workerName) : { status: await this.closedStatus(workerName), closed: true };
        seenPhase = phase;
        const key = `${status.phase}/${status.outcome ?? ''}`;
        if (key !== last) yield status;
        last = key;
        if (closed) return;
      }
      await delay(intervalMs, undefined, { signal });
    }
  }

  /**
   * Waits until the lifecycle reaches `phase` (see `hasReached`) or closes, with the status it then
   * has: one that fails on its way there is followed through its cleanup to the end. The caller
   * tells the two apart with `hasReached`.
   */
  async waitForPhase(workerName: string, phase: Phase, { intervalMs, onStatus }: { intervalMs?: number; onStatus?: (status: LifecycleStatus) => void } = {}): Promise<LifecycleStatus> {
    let latest: LifecycleStatus | undefined;
    for await (const status of this.watch(workerName, { intervalMs })) {
      onStatus?.(status);
      latest = status;
      if (hasReached(status, phase)) return status;
    }
    return latest!;
  }

  /**
   * The status of a lifecycle a describe has just shown running, and whether it has closed since
   * (then the status is its last).
   */
  private async statusWhileRunning(workerName: string): Promise<{ status: LifecycleStatus; closed: boolean }> {
    try {
      return { status: await this.status(workerName), closed: false };
    } catch (error) {
      // Closed since: read how it ended instead.
      if ((await this.handle(workerName).describe()).status.name === 'RUNNING') throw error;
    }
    return { status: await this.closedStatus(workerName), closed: true };
  }

  /**
   * A closed lifecycle's last status: from its result or, when it failed or was cancelled, from
   * the status query (a worker answers it by replaying the history). Without an answer, the
   * lifecycle's own failure says the most.
   */
  private async closedStatus(workerName: string): Promise<LifecycleStatus> {
    try {
      return (await this.result(workerName)).status;
    } catch (failure) {
      if (!(failure instanceof WorkflowFailedError)) throw failure;
      try {
        return await this.status(workerName);
      } catch {
        throw failure;
      }
    }
  }

  /**
   * Lifecycles known to Temporal's visibility store, newest first. A lifecycle that continued as
   * new is listed once, as its latest run (`startTime` is that run's start).
   */
  async list({ workerName, limit = 100 }: { workerName?: string; limit?: number } = {}): Promise<LifecycleSummary[]> {
    const query =
      `WorkflowType = '${LIFECYCLE_WORKFLOW_TYPE}' AND ExecutionStatus != 'ContinuedAsNew'` + (workerName ? ` AND LatentWorkerName = '${workerName.replace(/'/g, '')}'` : '');
    const found: LifecycleSummary[] = [];
    for await (const execution of this.temporal.workflow.list({ query })) {
      const attributes = execution.typedSearchAttributes;
      found.push({
        workerName: attributes.get(workerNameKey) ?? execution.workflowId.replace(/^latent-worker:/, ''),
        workflowId: execution.workflowId,
        runId: execution.runId,
        execution: execution.status.name,
        phase: attributes.get(phaseKey),
        serverId: attributes.get(serverIdKey),
        startTime: execution.startTime,
      });
      if (found.length >= limit) break;
    }
    return found;
  }

  /**
   * Whether the running lifecycle is left without a worker: no worker process polls its task queue
   * (each poll is at most a minute long, so a live one was seen within the last 70 s), or a
   * workflow task or activity has waited longer than `afterMs` for one to take it (a crashed
   * worker's queue may still list it for a while). Undefined when it is attended or closed.
   */
  async unattended(workerName: string, { afterMs = UNATTENDED_AFTER_MS }: { afterMs?: number } = {}): Promise<Unattended | undefined> {
    const description = await this.onLifecycle(workerName, () => this.handle(workerName).describe());
    if (description.status.name !== 'RUNNING') return undefined;
    const taskQueue = description.taskQueue;
    const now = Date.now();
    const lastPoll = await this.lastPoll(taskQueue);
    if (lastPoll === undefined || now - lastPoll >= LIVE_POLLER_MS) {
      const seen = lastPoll === undefined ? 'none seen' : `last seen ${new Date(lastPoll).toISOString()}`;
      return { taskQueue, since: lastPoll === undefined ? undefined : new Date(lastPoll).toISOString(), reason: `no worker polls task queue ${taskQueue} (${seen})` };
    }
    const { pendingWorkflowTask, pendingActivities } = description.raw;
    const waiting: { what: string; since: number }[] = [];
    if (pendingWorkflowTask && pendingWorkflowTask.state === proto.temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED) {
      waiting.push({ what: 'a workflow task', since: millisOf(pendingWorkflowTask.scheduledTime) });
    }
    for (const activity of pendingActivities ?? []) {
      if (activity.state !== proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED) continue;
      // Due when first scheduled, or when its retry's backoff ended.
      const due = activity.nextAttemptScheduleTime ? millisOf(activity.nextAttemptScheduleTime) : millisOf(activity.scheduledTime);
      waiting.push({ what: `activity ${activity.activityType?.name ?? '?'} (attempt ${activity.attempt ?? 1})`, since: due });
    }
    const oldest = waiting.filter((task) => task.since > 0 && now - task.since >= afterMs).sort((a, b) => a.since - b.since)[0];
    if (!oldest) return undefined;
    return {
      taskQueue,
      since: new Date(oldest.since).toISOString(),
      reason: `${oldest.what} has waited ${Math.round((now - oldest.since) / 1000)} s for a worker on task queue ${taskQueue}`,
    };
  }

  /** When a worker last polled the task queue for workflow or activity tasks, as Temporal saw it. */
  private async lastPoll(taskQueue: string): Promise<number | undefined> {
    const { TaskQueueType, TaskQueueKind } = proto.temporal.api.enums.v1;
    let latest: number | undefined;
    for (const taskQueueType of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
      const { pollers } = await this.temporal.workflowService.describeTaskQueue({
        namespace: this.temporal.options.namespace,
        taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType,
      });
      for (const poller of pollers ?? []) {
        const at = millisOf(poller.lastAccessTime);
        if (at > 0 && (latest === undefined || at > latest)) latest = at;
      }
    }
    return latest;
  }

  private async onLifecycle<T>(workerName: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new UnknownLifecycleError(workerName);
      throw error;
    }
  }
}
