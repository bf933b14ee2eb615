import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { CancellationScope, condition, log, setCurrentDetails, setHandler, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import { attachedSignal, buildFinishedSignal, buildStartedSignal, releaseSignal, statusQuery } from './messages.js';
import { countLifecycle, recordPhaseDuration } from './metrics.js';
import { outcomeKey, phaseKey, serverIdKey } from './searchAttributes.js';
import type { LifecycleShape } from './shape.js';
import type { DeleteOutcome } from '../activities/servers.js';
import type { ContinuedLifecycle, LifecycleResult, LifecycleStatus, Outcome, Phase, ReleaseReason, WorkerRef, WorkerSpec } from './types.js';

/** What each cloud activity is told about the worker: its name and, if the master defined it, its sealed account. */
export function workerRefOf(spec: WorkerSpec): WorkerRef {
  return spec.sealedCredentials === undefined ? { workerName: spec.name } : { workerName: spec.name, sealedCredentials: spec.sealedCredentials };
}

/**
 * What a lifecycle knows and what its CI master has told it. Every change of phase is also
 * written where operators look: the `LatentWorkerPhase` search attribute and the Web UI's
 * current details. In the lean shape they are written when the lifecycle next waits (`publish`),
 * so a workflow task that passes several phases writes one upsert, with where it stopped.
 */
export class LifecycleState {
  readonly status: LifecycleStatus;
  attached = false;
  released = false;
  /** When the worker last went idle (workflow time, ms); undefined while a build runs. */
  idleSince: number | undefined;
  private phaseEnteredAt = Date.now();
  /** Search attributes changed since the lifecycle last waited, by name (lean shape). */
  private readonly unpublished = new Map<string, SearchAttributeUpdatePair>();
  private readonly published = new Map<string, unknown>();
  private detailsChanged = false;

  /** A new lifecycle, or the next run of one that continued as new (attached, its server up). */
  constructor(
    readonly spec: WorkerSpec,
    readonly shape: LifecycleShape,
    continued?: ContinuedLifecycle,
  ) {
    this.status = continued ? { ...continued.status, runs: (continued.status.runs ?? 1) + 1 } : { workerName: spec.name, phase: 'starting', startedAt: now() };
    if (continued) {
      this.attached = true;
      this.idleSince = continued.idleSince === undefined ? undefined : Date.parse(continued.idleSince);
      this.phaseEnteredAt = Date.parse(continued.phaseEnteredAt);
      this.showDetails();
    }
    setHandler(statusQuery, () => this.status);
    setHandler(attachedSignal, () => {
      this.attached = true;
    });
    setHandler(releaseSignal, () => {
      this.released = true;
    });
    setHandler(buildStartedSignal, () => {
      this.status.buildsRunning = (this.status.buildsRunning ?? 0) + 1;
    });
    setHandler(buildFinishedSignal, () => {
      // A finish without a start (a master restarted mid-build) must not go negative.
      this.status.buildsRunning = Math.max(0, (this.status.buildsRunning ?? 0) - 1);
      this.status.buildsFinished = (this.status.buildsFinished ?? 0) + 1;
    });
  }

  get buildsRunning(): number {
    return this.status.buildsRunning ?? 0;
  }

  get buildsFinished(): number {
    return this.status.buildsFinished ?? 0;
  }

  enter(phase: Phase): void {
    recordPhaseDuration(this.status.phase, (Date.now() - this.phaseEnteredAt) / 1000);
    this.phaseEnteredAt = Date.now();
    this.status.phase = phase;
    this.show({ key: phaseKey, value: phase });
    // Operators list lifecycles by how they ended (`LatentWorkerOutcome = "missing"`); those that
    // ended before the attribute existed replay as they ran.
    if (phase === 'done' && this.status.outcome && this.shape.has('outcome-search-attribute')) this.show({ key: outcomeKey, value: this.status.outcome });
    this.showDetails();
    log.info(`phase ${phase}`, { workerName: this.spec.name, phase, serverId: this.status.serverId, outcome: this.status.outcome });
    if (phase === 'done' && this.status.outcome) countLifecycle(this.status.outcome, this.spec.name);
    if (phase === 'done') this.publish();
  }

  /**
   * Waits until `ready` (false when `timeoutMs` passes first). What changed is published before
   * the lifecycle waits; in the shapes before the steady one, not when `ready` already holds.
   */
  async waitUntil(ready: () => boolean, timeoutMs?: number, summary?: string): Promise<boolean> {
    if (this.shape.steady || !ready()) this.publish();
    if (timeoutMs === undefined) {
      await condition(ready);
      return true;
    }
    if (this.shape.unmarked) return this.waitLeavingTimerOnRelease(ready, timeoutMs, summary);
    return condition(ready, timeoutMs, { summary });
  }

  /**
   * How the unmarked shape waited, for its histories' replays: a release ends the lifecycle, and
   * Temporal drops a timer still pending when a run ends without writing an event, where
   * cancelling it writes one, so a wait that ended in a release left its timer. Whether that
   * timer was started depended on how the signals were grouped, which is why new runs cancel
   * every timer again (see `LifecycleShape`).
   */
  private async waitLeavingTimerOnRelease(ready: () => boolean, timeoutMs: number, summary?: string): Promise<boolean> {
    if (ready()) return true;
    const timer = new CancellationScope();
    let timedOut = false;
    // A cancellation of the lifecycle cancels the timer too; the wait below then throws it.
    void timer.run(() => sleep(timeoutMs, { summary })).then(
      () => (timedOut = true),
      () => undefined,
    );
    await condition(() => timedOut || ready());
    if (!timedOut && !this.released) timer.cancel();
    // As `condition` says it: `ready` held when the wait ended, though later signals of the same task may have undone it.
    return !timedOut;
  }

  /**
   * Publishes what changed before the master's signals decide what the lifecycle does next (steady
   * shape). A workflow task's signals are not always applied together: a worker process that
   * rebuilds a lifecycle from its history to answer a query applies a signal that waits for a
   * task, and keeps that state for the task, which applies the signals that came after. Were the
   * upserts made only where the lifecycle blocks, that task would make one more than a replay of
   * its history, which applies all of them at once, and the lifecycle could no longer be replayed
   * (found by the chaos suite: 3 to 4 of 55 histories of its watcher-kill scenario).
   */
  publishBeforeSignalsDecide(): void {
    if (this.shape.steady) this.publish();
  }

  serverCreated(id: string, name: string): void {
    this.status.serverId = id;
    this.status.serverName = name;
    this.show({ key: serverIdKey, value: id });
  }

  /** `outcome` is absent in histories from before deletes reported one. */
  serverDeleted(outcome: DeleteOutcome | undefined | null): void {
    this.status.deletedAt = now();
    if (outcome && (outcome.attempts > 1 || outcome.note || outcome.undeletableReportedAt)) {
      this.status.deletion = outcome;
      log.warn('server deleted after trouble', { workerName: this.spec.name, serverId: this.status.serverId, ...outcome });
    }
  }

  /** A failed launch: its server is gone, the next launch gets a new one. */
  launchFailed(reason: string): void {
    log.warn('launch failed', { workerName: this.spec.name, serverId: this.status.serverId, reason });
    this.status.launchFailures = [...(this.status.launchFailures ?? []), reason];
    this.status.serverId = undefined;
    this.status.serverName = undefined;
    this.status.deletedAt = undefined;
  }

  /** What the next run needs to serve on where this one stops. */
  handOver(): ContinuedLifecycle {
    // The next run starts with this run's search attributes as they stand.
    this.publish();
    return {
      status: { ...this.status, runs: this.status.runs ?? 1 },
      idleSince: this.idleSince === undefined ? undefined : new Date(this.idleSince).toISOString(),
      phaseEnteredAt: new Date(this.phaseEnteredAt).toISOString(),
    };
  }

  mark(milestone: 'activeAt' | 'attachedAt' | 'releasedAt', at = now()): void {
    this.status[milestone] = at;
  }

  finish(outcome: Outcome, releaseReason?: ReleaseReason): LifecycleResult {
    this.status.outcome = outcome;
    if (releaseReason) this.status.releaseReason = releaseReason;
    this.showDetails();
    return { outcome, serverId: this.status.serverId, status: this.status };
  }

  failed(outcome: Outcome, message: string): void {
    this.status.outcome = outcome;
    this.status.error = message;
  }

  /**
   * Writes what changed since the lifecycle last waited (lean shape; the earlier shapes wrote each
   * change at once): one search-attribute upsert and one details update. Called right before the
   * lifecycle waits for an activity, a signal or a timer, and before it ends.
   */
  publish(): void {
    const changed = [...this.unpublished.values()].filter((pair) => this.published.get(pair.key.name) !== pair.value);
    this.unpublished.clear();
    if (changed.length > 0) {
      upsertSearchAttributes(changed);
      for (const pair of changed) this.published.set(pair.key.name, pair.value);
    }
    if (this.detailsChanged) {
      this.detailsChanged = false;
      setCurrentDetails(this.details());
    }
  }

  private show(pair: SearchAttributeUpdatePair): void {
    if (this.shape.lean) this.unpublished.set(pair.key.name, pair);
    else upsertSearchAttributes([pair]);
  }

  private showDetails(): void {
    if (this.shape.lean) this.detailsChanged = true;
    else setCurrentDetails(this.details());
  }

  private details(): string {
    const { phase, serverId, serverName, launches, launchFailures, outcome, runs, buildsFinished } = this.status;
    const lines = [`**${this.spec.name}**: ${phase}${outcome ? ` (outcome ${outcome})` : ''}`];
    if (serverId) lines.push(`server \`${serverName}\` \`${serverId}\``);
    if (runs && runs > 1) lines.push(`run ${runs} of this lifecycle (continued as new to keep its history small); ${buildsFinished ?? 0} builds finished so far`);
    if (launches && launches > 1) lines.push(`launch ${launches}; failed launches may be at most ${this.spec.launchAttempts ?? 1}`);
    for (const failure of launchFailures ?? []) lines.push(`- failed launch: ${failure}`);
    return lines.join('\n\n');
  }
}

export function now(): string {
  return new Date(Date.now()).toISOString();
}
