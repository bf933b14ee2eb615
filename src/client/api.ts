import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
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

/** The order phases happen in, so a caller can wait for "at least" a phase. */
const PHASE_ORDER: Phase[] = ['starting', 'authenticating', 'resolving-image', 'creating', 'booting', 'waiting-for-attach', 'attached', 'deleting', 'done'];

export class UnknownLifecycleError extends Error {
  override name = 'UnknownLifecycleError';
  constructor(workerName: string) {
    super(`no lifecycle for worker "${workerName}" (workflow id ${workflowIdFor(workerName)})`);
  }
}

/** What a CI master uses: start lifecycles, tell them what happened, and ask where they are. */
export class LatentWorkerClient {
  constructor(
    readonly temporal: Client,
    readonly taskQueue: string,
  ) {}

  static async connect(settings: TemporalSettings): Promise<LatentWorkerClient> {
    const connection = await Connection.connect({ address: settings.address, connectTimeout: '10 seconds' });
    return new LatentWorkerClient(new Client({ connection, namespace: settings.namespace, dataConverter: settings.dataConverter }), settings.taskQueue);
  }

  /** Starts a lifecycle, or joins the one already running for this worker name. */
  async substantiate(spec: WorkerSpec, properties: Record<string, string> = {}): Promise<StartedLifecycle> {
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

  /** Polls the status query until the lifecycle reaches `phase` (or a later one) or ends. */
  async waitForPhase(workerName: string, phase: Phase, { intervalMs = 500, onStatus }: { intervalMs?: number; onStatus?: (status: LifecycleStatus) => void } = {}): Promise<LifecycleStatus> {
    const target = PHASE_ORDER.indexOf(phase);
    for (;;) {
      const status = await this.status(workerName).catch(async (error: unknown) => {
        // A lifecycle that already failed answers with its failure, which says more than the query's error.
        const { status: closed } = await this.handle(workerName).describe();
        if (closed.name !== 'RUNNING') return (await this.result(workerName)).status;
        throw error;
      });
      onStatus?.(status);
      if (PHASE_ORDER.indexOf(status.phase) >= target || status.outcome) return status;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
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
