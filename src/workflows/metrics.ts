import { metricMeter } from '@temporalio/workflow';
import { METRIC_NAMES } from './metricNames.js';
import type { Outcome, Phase } from './types.js';

// Emitted through the SDK's workflow meter: not a command, so no history changes and no
// determinism concern, and skipped while a history replays, so a lifecycle that moves to another
// worker is not counted twice. The worker adds namespace, task_queue and workflow_type.

export function countLifecycle(outcome: Outcome, workerName: string): void {
  metricMeter.createCounter(METRIC_NAMES.lifecycles, '', 'Lifecycles ended, by outcome and worker name').add(1, { outcome, worker: workerName });
}

/** Workflow time spent in a phase: a timer-paced wait is measured exactly, whichever worker ran it. */
export function recordPhaseDuration(phase: Phase, seconds: number): void {
  metricMeter.createHistogram(METRIC_NAMES.phaseDuration, 'float', 's', 'Time spent in each lifecycle phase').record(Math.max(0, seconds), { phase });
}
