import { proxySinks, type Sinks } from '@temporalio/workflow';
import { LAUNCH_READY, LAUNCH_RESULTS, LAUNCH_UNKNOWN_ERROR } from './metricNames.js';
import type { Outcome, Phase } from './types.js';

// The lifecycle's metrics leave the workflow through a sink: not a command, so no history
// changes and no determinism concern, and not called while a history replays, so a lifecycle
// that moves to another worker is not counted twice. The worker process records them on its
// meter with the workflow's namespace, task_queue and workflow_type (src/worker/metrics.ts).

export interface LifecycleMetricSinks extends Sinks {
  lifecycleMetrics: {
    lifecycleEnded(outcome: Outcome, workerName: string): void;
    phaseEnded(phase: Phase, seconds: number): void;
    launchEnded(workerName: string, result: string): void;
  };
}

const { lifecycleMetrics } = proxySinks<LifecycleMetricSinks>();

export function countLifecycle(outcome: Outcome, workerName: string): void {
  lifecycleMetrics.lifecycleEnded(outcome, workerName);
}

/** Workflow time spent in a phase: a timer-paced wait is measured exactly, whichever worker ran it. */
export function recordPhaseDuration(phase: Phase, seconds: number): void {
  lifecycleMetrics.phaseEnded(phase, Math.max(0, seconds));
}

/** A launch's server is ACTIVE. */
export function countLaunchReady(workerName: string): void {
  lifecycleMetrics.launchEnded(workerName, LAUNCH_READY);
}

/** A launch failed with an activity failure of this type (undefined: not an application failure). */
export function countLaunchFailed(workerName: string, failureType: string | undefined): void {
  lifecycleMetrics.launchEnded(workerName, LAUNCH_RESULTS[failureType ?? ''] ?? LAUNCH_UNKNOWN_ERROR);
}
