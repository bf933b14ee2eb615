import { ActivityFailure, allHandlersFinished, ApplicationFailure, condition, isCancellation, makeContinueAsNewFunc, log, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ResolvedImage } from '../activities/images.js';
import type { Preparation } from '../activities/quickSteps.js';
import type { ServerDiagnostics } from '../activities/reports.js';
import { cloudCalls, diagnosis, imageListing, inputCheck, localCloudCalls, masterCalls, notifications } from './activityStubs.js';
import { serveBuilds } from './builds.js';
import { deleteLaunchedServer, launchServer, type FirstCreate } from './launch.js';
import { statusQuery } from './messages.js';
import { LifecycleShape } from './shape.js';
import { LifecycleState, now, workerRefOf } from './state.js';
import { isMasterChoice, type ContinuedLifecycle, type LifecycleInput, type LifecycleResult, type MasterImageChoice } from './types.js';
import { FAILURE_TYPES } from '../contract/names.js';

/**
 * One substantiation of a latent worker, as Buildbot's OpenStackLatentWorker describes it:
 * authenticate, resolve the image, create the server and wait for it to become ACTIVE, wait for
 * the CI worker to attach (at most missing_timeout), serve builds until released, or report the
 * worker missing. Whatever happens, the server is deleted before the lifecycle ends.
 *
 * A worker that stays attached for weeks would outgrow one run's history: the lifecycle then
 * continues as new, handing its server and what it knows to the next run, which serves on.
 */
export async function latentWorkerLifecycle(input: LifecycleInput): Promise<LifecycleResult> {
  const { spec, continued } = input;
  const firstTry = isFirstTryOfFirstTask();
  const shape = LifecycleShape.ofThisRun();
  // A continued run's input was checked by the run that started the lifecycle.
  const prepared = continued ? undefined : await prepare(input, shape);
  const state = new LifecycleState(spec, shape, continued);
  let handOver: ContinuedLifecycle | undefined;
  try {
    if (!continued) {
      const ended = await bootUntilAttached(state, prepared, firstTry);
      if (ended) return ended;
    }
    const served = await serveBuilds(state);
    if (served === 'continue-as-new') {
      handOver = await readyToHandOver(state);
    } else {
      state.mark('releasedAt');
      return state.finish('released', served);
    }
  } catch (error) {
    const cancelled = isCancellation(error);
    state.failed(cancelled ? 'cancelled' : 'failed', innermostMessage(error));
    if (!cancelled && error instanceof ApplicationFailure && error.type === FAILURE_TYPES.launchFailed) await reportLaunchFailed(state, error.message);
    throw error;
  } finally {
    // Runs on cancellation too (termination skips it: the reaper covers that case); a hand-over
    // keeps the server for the next run.
    if (!handOver) {
      // A missing worker's server is already gone: it was deleted before the report.
      if (!state.status.deletedAt) await deleteLaunchedServer(state);
      state.enter('done');
    }
  }
  // The search attributes as they stand (phase, server), so the Web UI finds the next run as it found this one.
  return makeContinueAsNewFunc<typeof latentWorkerLifecycle>({ typedSearchAttributes: workflowInfo().typedSearchAttributes })({ ...input, continued: handOver });
}

/**
 * Boots a server and waits for the CI worker on it. Ends the lifecycle (with its result) when the
 * worker never attaches or the master releases it first; otherwise the worker is attached.
 */
async function bootUntilAttached(state: LifecycleState, prepared: Prepared | undefined, firstTry: boolean): Promise<LifecycleResult | undefined> {
  const { spec } = state;
  const image = prepared ? await preparedImage(state, prepared) : await authenticateAndResolveImage(state);

  await launchServer(state, image, firstCreateOf(state, prepared, firstTry));

  state.enter('waiting-for-attach');
  const attachedInTime = await state.waitUntil(
    () => state.attached || state.released,
    spec.missingTimeoutSeconds * 1000,
    `wait for the CI worker to attach (missing_timeout ${spec.missingTimeoutSeconds} s)`,
  );
  if (!attachedInTime) {
    await reportMissing(state);
    return state.finish('missing');
  }
  if (!state.attached) {
    state.mark('releasedAt');
    return state.finish('released', 'master');
  }
  state.mark('attachedAt');
  state.enter('attached');
  return undefined;
}

/**
 * Whether this run's first workflow task is on its first try: a started run's history then holds
 * its first three events and nothing more (a task that timed out or failed adds its own). Read in
 * the run's first activation, before anything is awaited, so a replay reads it as the run did.
 */
function isFirstTryOfFirstTask(): boolean {
  return workflowInfo().historyLength === 3;
}

/**
 * Where the first create goes in the prompt-create shape (see `FirstCreate`): into the first
 * workflow task when the quick steps gave everything in it; after an earlier try of that task,
 * whose create may have posted, to the activity, which looks for that server first.
 */
function firstCreateOf(state: LifecycleState, prepared: Prepared | undefined, firstTry: boolean): FirstCreate | undefined {
  if (!state.shape.promptCreate) return undefined;
  // An image the master chooses comes from activities, in later tasks: too late for the first one.
  if (state.spec.image !== undefined && isMasterChoice(state.spec.image)) return undefined;
  if (!firstTry) return { earlierTry: { postedAt: workflowInfo().runStartTime.getTime() } };
  if (!prepared || 'failure' in prepared || prepared.scheduledAt === undefined) return undefined;
  return { taskStartedAt: prepared.scheduledAt };
}

/** The earlier shapes: the token check and the image resolution, each a step of its own. */
async function authenticateAndResolveImage(state: LifecycleState): Promise<ResolvedImage | undefined> {
  state.enter('authenticating');
  await authenticate(state);
  state.enter('resolving-image');
  return resolveImage(state);
}

/** The image the quick steps resolved, or the one the master chooses now; their failure fails the lifecycle here, where it has its state. */
async function preparedImage(state: LifecycleState, prepared: Prepared): Promise<ResolvedImage | undefined> {
  if ('failure' in prepared) throw prepared.failure;
  if (prepared.image) {
    state.status.imageId = prepared.image.id;
    return prepared.image;
  }
  if (state.spec.image === undefined) return undefined;
  state.enter('resolving-image');
  return resolveImage(state);
}

/**
 * Signals are handled at once, so none is pending; waiting for every handler keeps that true if
 * one ever awaits. A signal that reaches the server while this task completes makes Temporal
 * refuse the hand-over and deliver it to this run first, so none is lost in between.
 */
async function readyToHandOver(state: LifecycleState): Promise<ContinuedLifecycle> {
  await condition(allHandlersFinished);
  log.info('continuing as new to keep the history small', { workerName: state.spec.name, serverId: state.status.serverId, historyLength: workflowInfo().historyLength });
  return state.handOver();
}

/** What a run of the watched shape knows before its state exists: the quick steps' image and when they were asked for, or how they failed. */
type Prepared = { image: ResolvedImage | undefined; scheduledAt: number | undefined } | { failure: unknown };

/**
 * A master in another language builds the input itself: a malformed one fails the lifecycle at
 * once, naming each field, before anything touches the cloud (rather than a workflow task that
 * fails and is retried forever on a missing field). In the watched shape the token check and the
 * image resolution come in the same local activity; the earlier shapes do them later, on their own.
 */
async function prepare(input: LifecycleInput, shape: LifecycleShape): Promise<Prepared | undefined> {
  // Lifecycles started before the check replay as they ran.
  if (!shape.has('validate-input')) return undefined;
  // A master may ask for the status at once: it is "starting" until the input is known to be good.
  const startedAt = now();
  setHandler(statusQuery, () => ({ workerName: String(input?.spec?.name ?? ''), phase: 'starting', startedAt }));
  if (!shape.watched) {
    refuseProblems(await inputCheck.checkInput(input));
    return undefined;
  }
  let preparation: Preparation;
  try {
    preparation = await localCloudCalls.checkInputAuthenticateResolveImage.executeWithOptions({ summary: quickStepsSummary(input) }, [input]);
  } catch (failure) {
    return { failure };
  }
  refuseProblems(preparation.problems);
  if (!('session' in preparation)) return { image: undefined, scheduledAt: undefined };
  return { image: preparation.image, scheduledAt: preparation.scheduledAt };
}

function refuseProblems(problems: string[]): void {
  if (problems.length > 0) throw ApplicationFailure.nonRetryable(`invalid lifecycle input: ${problems.join('; ')}`, FAILURE_TYPES.invalidInput);
}

/** Each quick step by name, for the Web UI; the input is not checked yet, so nothing in it is trusted to be there. */
function quickStepsSummary(input: LifecycleInput): string {
  const image = input?.spec?.image;
  const resolve = image === undefined || isMasterChoice(image) ? '' : `, resolve the image ${typeof image === 'string' ? image : JSON.stringify(image)}`;
  return `check the input, authenticate to ${String(input?.spec?.cloud ?? '')}${resolve}`;
}

/** The cloud's reason rather than Temporal's wrapper ("Activity task failed"), for the status query. */
function innermostMessage(error: unknown): string {
  let innermost = error;
  while (innermost instanceof ActivityFailure && innermost.cause) innermost = innermost.cause;
  return innermost instanceof Error ? innermost.message : String(innermost);
}

/** The token check: a login (or this worker process's cached token) and the compute API version. */
async function authenticate(state: LifecycleState): Promise<void> {
  const { spec } = state;
  const options = { summary: `authenticate to ${spec.cloud}` };
  if (state.shape.lean) await localCloudCalls.authenticate.executeWithOptions(options, [workerRefOf(spec)]);
  else await cloudCalls.authenticate.executeWithOptions(options, [workerRefOf(spec)]);
}

async function resolveImage(state: LifecycleState): Promise<ResolvedImage | undefined> {
  const { spec } = state;
  if (spec.image === undefined) return undefined;
  const wanted = isMasterChoice(spec.image) ? await imageChosenByTheMaster(state, spec.image) : spec.image;
  const options = { summary: 'resolve the image' };
  const ref = { ...workerRefOf(spec), image: wanted };
  const image = state.shape.lean ? await localCloudCalls.resolveImage.executeWithOptions(options, [ref]) : await cloudCalls.resolveImage.executeWithOptions(options, [ref]);
  state.status.imageId = image.id;
  return image;
}

/** The seed's image callable: the master is given every image the account sees and names one. */
async function imageChosenByTheMaster(state: LifecycleState, choice: MasterImageChoice): Promise<string> {
  const { spec } = state;
  state.publish();
  const images = await imageListing.listImages.executeWithOptions({ summary: 'list every image the account sees' }, [workerRefOf(spec)]);
  const chosen = await masterCalls(choice.taskQueue).chooseImage.executeWithOptions({ summary: `ask the master's ${choice.callable} for the image` }, [
    { workerName: spec.name, images },
  ]);
  return chosen.id;
}

/**
 * Tells people the worker never attached. The server is deleted first: a report that cannot be
 * sent (an SMTP outage) must neither keep a server alive while it retries nor make the outcome
 * `failed`; what the cloud says about the server is read before it goes.
 */
async function reportMissing(state: LifecycleState): Promise<void> {
  // Lifecycles started before this change reported first and deleted in the cleanup; they replay as they ran.
  if (!state.shape.has('delete-before-notify')) return notifyMissing(state);
  const diagnostics = await readDiagnostics(state);
  await deleteLaunchedServer(state);
  try {
    await notifyMissing(state, diagnostics);
  } catch (error) {
    if (isCancellation(error)) throw error;
    state.status.notificationError = innermostMessage(error);
    log.error('the missing-worker report could not be sent', { workerName: state.spec.name, error: state.status.notificationError });
  }
}

async function readDiagnostics(state: LifecycleState): Promise<ServerDiagnostics | undefined> {
  const { spec, status } = state;
  state.publish();
  try {
    return await diagnosis.missingDiagnostics.executeWithOptions({ summary: `read ${status.serverName} for the report` }, [{ ...workerRefOf(spec), serverId: status.serverId! }]);
  } catch (error) {
    if (isCancellation(error)) throw error;
    return undefined;
  }
}

async function notifyMissing(state: LifecycleState, diagnostics?: ServerDiagnostics): Promise<void> {
  const { spec, status } = state;
  log.warn('CI worker did not attach in time', { workerName: spec.name, serverId: status.serverId });
  state.publish();
  await notifications.notifyMissing.executeWithOptions({ summary: `report ${spec.name} missing to ${spec.notifyOnMissing.length} recipient(s)` }, [
    {
      ...workerRefOf(spec),
      serverId: status.serverId!,
      serverName: status.serverName!,
      recipients: spec.notifyOnMissing,
      missingTimeoutSeconds: spec.missingTimeoutSeconds,
      ...(diagnostics ? { diagnostics } : {}),
    },
  ]);
}

async function reportLaunchFailed(state: LifecycleState, message: string): Promise<void> {
  const { spec, status } = state;
  state.publish();
  await notifications.notifyLaunchFailed.executeWithOptions({ summary: `report the failed launches of ${spec.name}` }, [
    { ...workerRefOf(spec), recipients: spec.notifyOnMissing, reasons: status.launchFailures ?? [message] },
  ]);
}
