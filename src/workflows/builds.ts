import { condition, patched } from '@temporalio/workflow';
import type { LifecycleState } from './state.js';
import type { ReleaseReason } from './types.js';

/**
 * Serves builds until the master releases the worker or it sits idle for build_wait_timeout
 * (0: released after each build; negative: only an explicit release ends it), as Buildbot does.
 */
export async function serveBuilds(state: LifecycleState): Promise<ReleaseReason> {
  // Lifecycles started before idle release existed waited for `release` alone.
  if (!patched('build-wait-timeout')) {
    await condition(() => state.released);
    return 'master';
  }
  const idleSeconds = state.spec.buildWaitTimeoutSeconds ?? 600;
  const busyOrReleased = (): boolean => state.released || state.buildsRunning > 0;
  for (;;) {
    if (state.released) return 'master';
    if (state.buildsRunning > 0) {
      await condition(() => state.released || state.buildsRunning === 0);
    } else if (idleSeconds === 0 && state.buildsFinished > 0) {
      return 'idle';
    } else if (idleSeconds <= 0) {
      await condition(busyOrReleased);
    } else if (!(await condition(busyOrReleased, idleSeconds * 1000, { summary: `idle: released after build_wait_timeout (${idleSeconds} s)` }))) {
      return 'idle';
    }
  }
}
