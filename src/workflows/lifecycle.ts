import { ActivityFailure, ApplicationFailure, condition, isCancellation, log, patched, setHandler } from '@temporalio/workflow';
import type { ResolvedImage } from '../activities/images.js';
import { cloudCalls, inputCheck, notifications } from './activityStubs.js';
import { serveBuilds } from './builds.js';
import { deleteLaunchedServer, launchServer } from './launch.js';
import { statusQuery } from './messages.js';
import { LifecycleState, now } from './state.js';
import type { LifecycleInput, LifecycleResult } from './types.js';

/**
 * One substantiation of a latent worker, as Buildbot's OpenStackLatentWorker describes it:
 * authenticate, resolve the image, create the server and wait for it to become ACTIVE, wait for
 * the CI worker to attach (at most missing_timeout), serve builds until released, or report the
 * worker missing. Whatever happens, the server is deleted before the lifecycle ends.
 */
export async function latentWorkerLifecycle(input: LifecycleInput): Promise<LifecycleResult> {
  await refuseInvalidInput(input);
  const { spec } = input;
  const state = new LifecycleState(spec);
  try {
    state.enter('authenticating');
    await cloudCalls.authenticate.executeWithOptions({ summary: `authenticate to ${spec.cloud}` }, [{ workerName: spec.name }]);

    state.enter('resolving-image');
    const image = await resolveImage(state);

    await launchServer(state, image);

    state.enter('waiting-for-attach');
    const attachedInTime = await condition(() => state.attached || state.released, spec.missingTimeoutSeconds * 1000, {
      summary: `wait for the CI worker to attach (missing_timeout ${spec.missingTimeoutSeconds} s)`,
    });
    if (!attachedInTime) {
      await reportMissing(state);
      return state.finish('missing');
    }
    if (state.attached) {
      state.mark('attachedAt');
      state.enter('attached');
      const reason = await serveBuilds(state);
      state.mark('releasedAt');
      return state.finish('released', reason);
    }
    state.mark('releasedAt');
    return state.finish('released', 'master');
  } catch (error) {
    const cancelled = isCancellation(error);
    state.failed(cancelled ? 'cancelled' : 'failed', innermostMessage(error));
    if (!cancelled && error instanceof ApplicationFailure && error.type === 'LaunchFailed') await reportLaunchFailed(state, error.message);
    throw error;
  } finally {
    // Runs on cancellation too (termination skips it: the reaper covers that case).
    await deleteLaunchedServer(state);
    state.enter('done');
  }
}

/**
 * A master in another language builds the input itself: a malformed one fails the lifecycle at
 * once, naming each field, before anything touches the cloud (rather than a workflow task that
 * fails and is retried forever on a missing field).
 */
async function refuseInvalidInput(input: LifecycleInput): Promise<void> {
  // Lifecycles started before the check replay as they ran.
  if (!patched('validate-input')) return;
  // A master may ask for the status at once: it is "starting" until the input is known to be good.
  const startedAt = now();
  setHandler(statusQuery, () => ({ workerName: String(input?.spec?.name ?? ''), phase: 'starting', startedAt }));
  const problems = await inputCheck.checkInput(input);
  if (problems.length > 0) throw ApplicationFailure.nonRetryable(`invalid lifecycle input: ${problems.join('; ')}`, 'InvalidInput');
}

/** The cloud's reason rather than Temporal's wrapper ("Activity task failed"), for the status query. */
function innermostMessage(error: unknown): string {
  let innermost = error;
  while (innermost instanceof ActivityFailure && innermost.cause) innermost = innermost.cause;
  return innermost instanceof Error ? innermost.message : String(innermost);
}

async function resolveImage(state: LifecycleState): Promise<ResolvedImage | undefined> {
  const { spec } = state;
  if (spec.image === undefined) return undefined;
  const image = await cloudCalls.resolveImage.executeWithOptions({ summary: 'resolve the image' }, [{ workerName: spec.name, image: spec.image }]);
  state.status.imageId = image.id;
  return image;
}

async function reportMissing(state: LifecycleState): Promise<void> {
  const { spec, status } = state;
  log.warn('CI worker did not attach in time', { workerName: spec.name, serverId: status.serverId });
  await notifications.notifyMissing.executeWithOptions({ summary: `report ${spec.name} missing to ${spec.notifyOnMissing.length} recipient(s)` }, [
    {
      workerName: spec.name,
      serverId: status.serverId!,
      serverName: status.serverName!,
      recipients: spec.notifyOnMissing,
      missingTimeoutSeconds: spec.missingTimeoutSeconds,
    },
  ]);
}

async function reportLaunchFailed(state: LifecycleState, message: string): Promise<void> {
  const { spec, status } = state;
  await notifications.notifyLaunchFailed.executeWithOptions({ summary: `report the failed launches of ${spec.name}` }, [
    { workerName: spec.name, recipients: spec.notifyOnMissing, reasons: status.launchFailures ?? [message] },
  ]);
}
