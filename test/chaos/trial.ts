import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CancelledFailure, TerminatedFailure, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { LatentWorkerClient, LifecycleHandle } from '../../src/client/api.js';
import { parseConfig } from '../../src/config/load.js';
import type { InjectedFault, Simulator } from '../../src/simulator/index.js';
import { phaseKey } from '../../src/workflows/searchAttributes.js';
import type { Phase } from '../../src/workflows/types.js';
import { reapNow, type ReapReport } from './reaper.js';
import type { RestartableTemporal } from './temporalServer.js';
import { GiveUp, sleep, waitFor, withTimeout } from './waits.js';
import { WorkerProcess } from './workerProcess.js';
import { SEED_SIMPLEST_EXAMPLE } from '../../src/config/seedExample.js';

export type OutcomeKind = 'released' | 'missing' | 'failed' | 'cancelled' | 'terminated';

export interface Outcome {
  kind: OutcomeKind | 'undefined';
  runId: string;
  /** The failure's message for `failed`; what went wrong for `undefined`. */
  message?: string;
}

/** The seed document's simplest worker; the runner points its auth URL at the trial's own simulator. */
const { name: _name, os_auth_url: _authUrl, ...seedDefinition } = SEED_SIMPLEST_EXAMPLE;
export const SEED_DEFINITION = seedDefinition;

const PHASE_ORDER: Phase[] = ['starting', 'authenticating', 'resolving-image', 'creating', 'booting', 'waiting-for-attach', 'attached', 'deleting', 'done'];

export interface TrialSetup {
  scenario: string;
  run: number;
  workerName: string;
  simulator: Simulator;
  client: LatentWorkerClient;
  temporal: RestartableTemporal;
  /** The worker definition, as written to the config file. */
  definition: Record<string, unknown>;
  dir: string;
  /** The worker process config of this trial, when it runs its own worker processes. */
  ownWorker?: { configFile: string; taskQueue: string };
  /** Lifecycles beside the trial's own on the same cloud (Scenario.companions), by worker name. */
  companions: string[];
  /** What `latent-worker reap` runs against mid-scenario: the config and task queue of the trial's worker. */
  reaperTarget: { configFile: string; temporalAddress: string; taskQueue: string };
}

/**
 * One run of one scenario: one lifecycle on its own simulator, driven by the scenario, then
 * checked. Lifecycle helpers read state from Temporal (search attributes, results), never by
 * query, so they work while no worker process is running.
 */
export class Trial {
  readonly notes: string[] = [];
  handle: LifecycleHandle | undefined;
  runId = '';
  /** Earliest time the cloud may be inspected: an in-flight (delayed) request may still create or delete. */
  busyUntil = 0;
  worker: WorkerProcess | undefined;
  /** More worker processes on the trial's task queue (a fleet), beside `worker`. */
  readonly fleet: WorkerProcess[] = [];
  workersStarted = 0;
  /** Servers of this trial that a reaper run deleted while the lifecycle still held them. */
  liveReaped = 0;
  /** Whether the trial's own worker process was still running when the lifecycle ended. */
  workerAliveAtEnd: boolean | undefined;
  private readonly spec;
  private readonly companionSpecs;

  constructor(readonly setup: TrialSetup) {
    const names = [setup.workerName, ...setup.companions];
    const config = parseConfig({ workers: names.map((name) => ({ ...setup.definition, name })) }, `chaos trial ${setup.workerName}`, {});
    this.spec = config.workers.get(setup.workerName)!.specFor();
    this.companionSpecs = setup.companions.map((name) => config.workers.get(name)!.specFor());
  }

  /** Starts the companion lifecycles (Scenario.companions). */
  async startCompanions(): Promise<void> {
    await Promise.all(this.companionSpecs.map((spec) => this.setup.client.substantiate(spec, { properties: { chaos: this.setup.scenario } })));
  }

  get name(): string {
    return this.setup.workerName;
  }

  get sim(): Simulator {
    return this.setup.simulator;
  }

  get label(): string {
    return `${this.setup.scenario} run ${this.setup.run}`;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** Starts the lifecycle, as a CI master's substantiate would. */
  async start(): Promise<void> {
    const started = await this.setup.client.substantiate(this.spec, { properties: { chaos: this.setup.scenario } });
    this.handle = this.setup.client.handle(this.name);
    this.runId = started.firstExecutionRunId;
  }

  private lifecycle(): LifecycleHandle {
    if (!this.handle) throw new Error(`${this.label}: the lifecycle was not started`);
    return this.handle;
  }

  /** The phase the lifecycle last wrote to its search attribute, and whether it still runs. */
  async describe(): Promise<{ phase: Phase | undefined; running: boolean }> {
    const description = await this.lifecycle().describe();
    return { phase: description.typedSearchAttributes.get(phaseKey) as Phase | undefined, running: description.status.name === 'RUNNING' };
  }

  /** Waits until the lifecycle has reached `phase` (or a later one); fails if it ends first. */
  async waitPhase(phase: Phase, timeoutMs = 60_000): Promise<Phase> {
    const target = PHASE_ORDER.indexOf(phase);
    return waitFor(`${this.label}: lifecycle ${this.name} to reach phase ${phase}`, async () => {
      const { phase: current, running } = await this.describe();
      if (current !== undefined && PHASE_ORDER.indexOf(current) >= target) return current;
      if (!running) throw new GiveUp(`lifecycle ended in phase ${current ?? 'unknown'} before reaching ${phase}`);
      return undefined;
    }, timeoutMs, 100);
  }

  /** Waits until `fault` has fired at least `times` times. */
  async waitFired(fault: InjectedFault, times = 1, timeoutMs = 60_000): Promise<void> {
    await waitFor(`${this.label}: fault ${fault.kind} on ${'route' in fault ? fault.route : 'boots'} to fire ${times} time(s)`, () => {
      const current = this.sim.faults.list().find((f) => f.id === fault.id);
      return (current?.fired ?? 0) >= times;
    }, timeoutMs, 20);
  }

  /** Plays the CI master: the worker attached, then is released. */
  async attachAndRelease(timeoutMs = 90_000): Promise<void> {
    await this.waitPhase('waiting-for-attach', timeoutMs);
    await this.setup.client.attached(this.name);
    await this.setup.client.release(this.name);
  }

  async attach(timeoutMs = 90_000): Promise<void> {
    await this.waitPhase('waiting-for-attach', timeoutMs);
    await this.setup.client.attached(this.name);
    await this.waitPhase('attached', timeoutMs);
  }

  async release(): Promise<void> {
    await this.setup.client.release(this.name);
  }

  /** How the lifecycle ended; retries through a Temporal restart. */
  async outcome(timeoutMs = 180_000): Promise<Outcome> {
    const handle = this.lifecycle();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const result = await withTimeout(`${this.label}: lifecycle ${this.name} to end`, handle.result(), Math.max(1, deadline - Date.now()));
        return { kind: result.outcome, runId: this.runId };
      } catch (error) {
        if (error instanceof WorkflowFailedError) return { ...failureOutcome(error), runId: this.runId };
        if (Date.now() >= deadline || (error instanceof Error && error.name === 'ChaosTimeout')) throw error;
        // The Temporal service is restarting: ask again.
        await sleep(500);
      }
    }
  }

  /** This trial's own worker process (kill scenarios). */
  async startWorker(): Promise<WorkerProcess> {
    const own = this.setup.ownWorker;
    if (!own) throw new Error(`${this.label}: this trial uses the shared worker process`);
    // A second process would run beside the first, which nothing would stop.
    if (this.worker?.alive()) throw new Error(`${this.label}: its worker process is still running`);
    this.workersStarted += 1;
    this.worker = await WorkerProcess.start({
      configFile: own.configFile,
      temporalAddress: this.setup.temporal.address,
      taskQueue: own.taskQueue,
      logFile: path.join(this.setup.dir, `worker-${this.name}.log`),
    });
    return this.worker;
  }

  /** One more worker process on the trial's task queue: the trial's worker processes are then a fleet. */
  async startFleetWorker(): Promise<WorkerProcess> {
    const own = this.setup.ownWorker;
    if (!own) throw new Error(`${this.label}: this trial uses the shared worker process`);
    this.workersStarted += 1;
    const worker = await WorkerProcess.start({
      configFile: own.configFile,
      temporalAddress: this.setup.temporal.address,
      taskQueue: own.taskQueue,
      logFile: path.join(this.setup.dir, `worker-${this.name}-fleet-${this.fleet.length + 1}.log`),
    });
    this.fleet.push(worker);
    return worker;
  }

  /** SIGKILL of one of the trial's worker processes. */
  async killProcess(worker: WorkerProcess): Promise<void> {
    await worker.kill();
    this.note(`SIGKILL worker ${worker.pid}`);
    if (this.worker === worker) this.worker = undefined;
    const index = this.fleet.indexOf(worker);
    if (index >= 0) this.fleet.splice(index, 1);
  }

  /** SIGKILL: the worker process dies mid-step, with no chance to tell Temporal anything. */
  async killWorker(): Promise<void> {
    if (!this.worker) throw new Error(`${this.label}: no worker process to kill`);
    await this.worker.kill();
    this.note(`SIGKILL worker ${this.worker.pid}`);
    this.worker = undefined;
  }

  async stopWorker(): Promise<void> {
    this.workerAliveAtEnd ??= this.worker?.alive();
    await Promise.all([this.worker?.stop(), ...this.fleet.map((worker) => worker.stop())]);
    this.worker = undefined;
    this.fleet.length = 0;
  }

  /**
   * `latent-worker reap --grace 0` while the lifecycle runs: every server of this trial it deletes
   * was live, and is counted as such.
   */
  async reapWhileLive(): Promise<ReapReport> {
    const mine = new Set(this.sim.servers().map((server) => server.id));
    const report = await reapNow(this.setup.reaperTarget);
    this.liveReaped += report.deleted.filter((orphan) => mine.has(orphan.serverId)).length;
    this.note(`mid-run reaper: ${report.scanned} scanned, ${report.kept} kept, ${report.deleted.length} deleted`);
    return report;
  }

  /** `temporal workflow reset` to the last completed workflow task: a new run id, the same state. */
  async reset(): Promise<string> {
    const handle = this.lifecycle();
    const history = await handle.fetchHistory();
    const lastTask = [...(history.events ?? [])].reverse().find((event) => event.workflowTaskCompletedEventAttributes);
    if (!lastTask) throw new Error(`${this.label}: no completed workflow task to reset to`);
    const { runId } = await this.setup.client.temporal.workflowService.resetWorkflowExecution({
      namespace: this.setup.client.temporal.options.namespace,
      workflowExecution: { workflowId: handle.workflowId },
      reason: 'chaos: operator reset',
      workflowTaskFinishEventId: lastTask.eventId,
      requestId: randomUUID(),
    });
    this.note(`reset to run ${runId}`);
    return runId;
  }

  /** Rewrites this trial's own worker config, as an operator editing the file before a restart. */
  rewriteOwnConfig(workers: Record<string, unknown>[]): void {
    if (!this.setup.ownWorker) throw new Error(`${this.label}: this trial uses the shared worker process`);
    writeWorkerConfig(this.setup.ownWorker.configFile, workers);
  }

  /** A precondition of the scenario: when it does not hold, the run did not test what it claims to. */
  expectNow(condition: boolean, what: string): void {
    if (!condition) throw new Error(`${this.label}: precondition failed: ${what}`);
  }

  /** Requests the cloud may still act on (a delayed create or delete) end before `ms` from now. */
  busyFor(ms: number): void {
    this.busyUntil = Math.max(this.busyUntil, Date.now() + ms);
  }
}

function failureOutcome(error: WorkflowFailedError): Omit<Outcome, 'runId'> {
  const cause = error.cause;
  if (cause instanceof CancelledFailure) return { kind: 'cancelled' };
  if (cause instanceof TerminatedFailure) return { kind: 'terminated' };
  const root = cause instanceof ActivityFailure ? (cause.cause ?? cause) : cause;
  if (root instanceof ApplicationFailure || root instanceof Error) return { kind: 'failed', message: root.message };
  return { kind: 'undefined', message: `workflow failed without a cause: ${error.message}` };
}

/**
 * A delete reported as stuck after 30 minutes in production is reported after 60 s here: the
 * chaos suite's durations are scaled down 30 times (10 minutes of 409 are 20 s, 30 minutes of
 * Keystone outage are 60 s).
 */
export const CHAOS_TIME_SCALE = 30;
export const CHAOS_DELETE_REPORT_AFTER_SECONDS = 1800 / CHAOS_TIME_SCALE;

/** Writes a worker process config file for the given definitions. */
export function writeWorkerConfig(file: string, workers: Record<string, unknown>[]): void {
  writeFileSync(file, JSON.stringify({ workers, deletes: { reportAfterSeconds: CHAOS_DELETE_REPORT_AFTER_SECONDS } }, null, 2));
}
