import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ConfigError, workerOrThrow, type LoadedConfig } from '../config/load.js';
import { inputProblems } from './inputSchema.js';
import { attachedSignal, buildFinishedSignal, buildStartedSignal, releaseSignal, statusQuery } from '../workflows/messages.js';
import { cloudKey, phaseKey, serverIdKey, workerNameKey } from '../workflows/searchAttributes.js';
import type { latentWorkerLifecycle } from '../workflows/index.js';
import type { LifecycleResult, LifecycleStatus, Phase, WorkerSpec } from '../workflows/types.js';
import { LIFECYCLE_WORKFLOW_TYPE, workflowIdFor } from './contract.js';
import type { TemporalSettings } from './settings.js';

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

/** The order phases happen in, so a caller can wait for "at least" a phase. */
export const PHASE_ORDER: Phase[] = ['starting', 'authenticating', 'resolving-image', 'creating', 'booting', 'waiting-for-attach', 'attached', 'deleting', 'done'];

export class UnknownLifecycleError extends Error {
  override name = 'UnknownLifecycleError';
  constructor(workerName: string) {
    super(`no lifecycle for worker "${workerName}" (workflow id ${workflowIdFor(workerName)})`);
  }
}

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

  static async connect(settings: TemporalSettings, definitions?: LoadedConfig): Promise<LatentWorkerClient> {
    const connection = await Connection.connect({ address: settings.address, connectTimeout: '10 seconds' });
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

  async attached(workerName: string): Promise<void> {
    await this.onLifecycle(workerName, () => this.handle(workerName).signal(attachedSignal));
  }

  /** A build started on the worker: idle time stops counting until it finishes. */
  async buildStarted(workerName: string): Promise<void> {
    await this.onLifecycle(workerName, () => this.handle(workerName).signal(buildStartedSignal));
  }

  /** A build finished: with build_wait_timeout 0 this releases the worker, otherwise idle time counts again. */
  async buildFinished(workerName: string): Promise<void> {
    await this.onLifecycle(workerName, () => this.handle(workerName).signal(buildFinishedSignal));
  }

  async release(workerName: string): Promise<void> {
    await this.onLifecycle(workerName, () => this.handle(workerName).signal(releaseSignal));
  }

  async status(workerName: string): Promise<LifecycleStatus> {
    return this.onLifecycle(workerName, () => this.handle(workerName).query(statusQuery));
  }

  async result(workerName: string): Promise<LifecycleResult> {
    return this.handle(workerName).result();
  }

  /**
   * The lifecycle's status each time its phase (or outcome) changes, from the current one to the
   * last: the iteration ends once the lifecycle has closed, with its final status. Statuses are
   * read with the `status` query every `intervalMs`, so a phase shorter than that may be skipped.
   */
  async *watch(workerName: string, { intervalMs = 500, signal }: WatchOptions = {}): AsyncGenerator<LifecycleStatus> {
    let last: string | undefined;
    for (;;) {
      signal?.throwIfAborted();
      const { status, closed } = await this.currentStatus(workerName);
      const key = `${status.phase}/${status.outcome ?? ''}`;
      if (key !== last) yield status;
      last = key;
      if (closed) return;
      await delay(intervalMs, undefined, { signal });
    }
  }

  /**
   * Waits until the lifecycle reaches `phase` (or a later one) or closes, with the status it then
   * has: one that fails on its way there is followed through its cleanup to the end.
   */
  async waitForPhase(workerName: string, phase: Phase, { intervalMs, onStatus }: { intervalMs?: number; onStatus?: (status: LifecycleStatus) => void } = {}): Promise<LifecycleStatus> {
    const target = PHASE_ORDER.indexOf(phase);
    let latest: LifecycleStatus | undefined;
    for await (const status of this.watch(workerName, { intervalMs })) {
      onStatus?.(status);
      latest = status;
      if (PHASE_ORDER.indexOf(status.phase) >= target) return status;
    }
    return latest!;
  }

  /** The status, and whether the lifecycle has closed (then the status is its last). */
  private async currentStatus(workerName: string): Promise<{ status: LifecycleStatus; closed: boolean }> {
    const handle = this.handle(workerName);
    const { status: execution } = await this.onLifecycle(workerName, () => handle.describe());
    if (execution.name === 'RUNNING') {
      try {
        return { status: await this.status(workerName), closed: false };
      } catch (error) {
        // Closed between the two calls: read how it ended instead.
        if ((await handle.describe()).status.name === 'RUNNING') throw error;
      }
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

  /** Lifecycles known to Temporal's visibility store, newest first. */
  async list({ workerName, limit = 100 }: { workerName?: string; limit?: number } = {}): Promise<LifecycleSummary[]> {
    const query = `WorkflowType = '${LIFECYCLE_WORKFLOW_TYPE}'` + (workerName ? ` AND LatentWorkerName = '${workerName.replace(/'/g, '')}'` : '');
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

  private async onLifecycle<T>(workerName: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new UnknownLifecycleError(workerName);
      throw error;
    }
  }
}
