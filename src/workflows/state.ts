import { log, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { attachedSignal, buildFinishedSignal, buildStartedSignal, releaseSignal, statusQuery } from './messages.js';
import { countLifecycle, recordPhaseDuration } from './metrics.js';
import { phaseKey, serverIdKey } from './searchAttributes.js';
import type { LifecycleResult, LifecycleStatus, Outcome, Phase, ReleaseReason, WorkerSpec } from './types.js';

/**
 * What a lifecycle knows and what its CI master has told it. Every change of phase is also
 * written where operators look: the `LatentWorkerPhase` search attribute and the Web UI's
 * current details.
 */
export class LifecycleState {
  readonly status: LifecycleStatus;
  attached = false;
  released = false;
  private phaseEnteredAt = Date.now();

  constructor(readonly spec: WorkerSpec) {
    this.status = { workerName: spec.name, phase: 'starting', startedAt: now() };
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
    upsertSearchAttributes([{ key: phaseKey, value: phase }]);
    this.showDetails();
    log.info(`phase ${phase}`, { workerName: this.spec.name, phase, serverId: this.status.serverId, outcome: this.status.outcome });
    if (phase === 'done' && this.status.outcome) countLifecycle(this.status.outcome, this.spec.name);
  }

  serverCreated(id: string, name: string): void {
    this.status.serverId = id;
    this.status.serverName = name;
    upsertSearchAttributes([{ key: serverIdKey, value: id }]);
  }

  serverDeleted(): void {
    this.status.deletedAt = now();
  }

  /** A failed launch: its server is gone, the next launch gets a new one. */
  launchFailed(reason: string): void {
    log.warn('launch failed', { workerName: this.spec.name, serverId: this.status.serverId, reason });
    this.status.launchFailures = [...(this.status.launchFailures ?? []), reason];
    this.status.serverId = undefined;
    this.status.serverName = undefined;
    this.status.deletedAt = undefined;
  }

  mark(milestone: 'activeAt' | 'attachedAt' | 'releasedAt'): void {
    this.status[milestone] = now();
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

  private showDetails(): void {
    const { phase, serverId, serverName, launches, launchFailures, outcome } = this.status;
    const lines = [`**${this.spec.name}**: ${phase}${outcome ? ` (outcome ${outcome})` : ''}`];
    if (serverId) lines.push(`server \`${serverName}\` \`${serverId}\``);
    if (launches && launches > 1) lines.push(`launch ${launches}; failed launches may be at most ${this.spec.launchAttempts ?? 1}`);
    for (const failure of launchFailures ?? []) lines.push(`- failed launch: ${failure}`);
    setCurrentDetails(lines.join('\n\n'));
  }
}

export function now(): string {
  return new Date(Date.now()).toISOString();
}
