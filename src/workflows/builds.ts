import { workflowInfo } from '@temporalio/workflow';
import type { LifecycleState } from './state.js';
import type { ReleaseReason } from './types.js';

/** What serving builds ends in: a release, or a hand-over to the next run of the lifecycle. */
export type ServingEnd = ReleaseReason | 'continue-as-new';

/**
 * Events a run may gather before it hands over. An attached lifecycle adds about ten a build;
 * Temporal warns at 10,240 and terminates a run at 51,200, which skips the server's delete.
 * Kept below the server's own suggestion threshold (4 Ki events), which is also followed.
 */
export const EVENTS_PER_RUN = 4_000;

/**
 * Serves builds until the master releases the worker or it sits idle for build_wait_timeout
 * (0: released after each build; negative: only an explicit release ends it), as Buildbot does.
 * A long-lived worker's history is kept small: serving stops for a hand-over to a new run once
 * the history is large, whatever the worker is doing (builds keep running on the server).
 */
export async function serveBuilds(state: LifecycleState): Promise<ServingEnd> {
  // Lifecycles started before idle release existed waited for `release` alone.
  if (!state.shape.has('build-wait-timeout')) {
    await state.waitUntil(() => state.released);
    return 'master';
  }
  // Lifecycles attached before the hand-over existed serve on in one run, as they began.
  const bounded = state.shape.has('continue-as-new');
  const historyLarge = (): boolean => bounded && historyIsLarge();
  const idleSeconds = state.spec.buildWaitTimeoutSeconds ?? 600;
  const busyOrReleased = (): boolean => state.released || state.buildsRunning > 0 || historyLarge();
  for (;;) {
    state.publishBeforeSignalsDecide();
    if (state.released) return 'master';
    if (historyLarge()) return 'continue-as-new';
    if (state.buildsRunning > 0) {
      state.idleSince = undefined;
      await state.waitUntil(() => state.released || state.buildsRunning === 0 || historyLarge());
    } else if (idleSeconds === 0 && state.buildsFinished > 0) {
      return 'idle';
    } else if (idleSeconds <= 0) {
      await state.waitUntil(busyOrReleased);
    } else {
      state.idleSince ??= Date.now();
      const idleLeftMs = idleSeconds * 1000 - (Date.now() - state.idleSince);
      if (idleLeftMs <= 0) return 'idle';
      if (!(await state.waitUntil(busyOrReleased, idleLeftMs, `idle: released after build_wait_timeout (${idleSeconds} s)`))) return 'idle';
    }
  }
}

function historyIsLarge(): boolean {
  const { continueAsNewSuggested, historyLength } = workflowInfo();
  return continueAsNewSuggested || historyLength >= EVENTS_PER_RUN;
}
