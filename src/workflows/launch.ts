import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, log, sleep, workflowInfo } from '@temporalio/workflow';
import type { CreatedServer, CreateServerInput, DeleteOutcome, EarlierTry, PromptCreate, ServerRef } from '../activities/servers.js';
import type { ResolvedImage } from '../activities/images.js';
import { cloudCalls, deletion, promptCreation, promptDeletion, waiting } from './activityStubs.js';
import { waitForBootTold } from './bootWatch.js';
import { countLaunchFailed, countLaunchReady } from './metrics.js';
import { serverName, serverNameFromRunIdHead } from './serverNames.js';
import { workerRefOf, type LifecycleState } from './state.js';
import { FAILURE_TYPES } from '../contract/names.js';

/** Failure types of a launch that a new server may fix. */
const BOOT_FAILURES = new Set<string>([FAILURE_TYPES.serverError, FAILURE_TYPES.bootTimeout, FAILURE_TYPES.serverVanished]);
/** Failure types that mean "the cloud has no room now": wait, without spending an attempt. */
const NO_CAPACITY = new Set<string>([FAILURE_TYPES.openStackQuotaExceeded, FAILURE_TYPES.serverQuotaExceeded]);

/**
 * How the first launch's create goes in the prompt-create shape: tried within the run's first
 * workflow task, which began (in the worker process's clock) at `taskStartedAt`; or, when an
 * earlier try of that task may have posted, by the activity, which looks for that server first.
 */
export type FirstCreate = { taskStartedAt: number } | { earlierTry: EarlierTry };

const CAPACITY_BACKOFF_FIRST_MS = 15_000;
const CAPACITY_BACKOFF_MAX_MS = 5 * 60_000;

/**
 * Creates the server and waits for ACTIVE. A server that goes to ERROR or misses boot_timeout is
 * deleted and another launched, up to launch_attempts; a full quota is waited out with capped
 * backoff, bounded by missing_timeout, without spending an attempt. So is a create that found
 * every one of the fleet's create slots taken through all its tries, at once: those tries waited
 * already, and the next may reach a worker process with a slot free. Errors that a new server
 * cannot fix (unknown flavor, invalid request) end the lifecycle at once.
 */
export async function launchServer(state: LifecycleState, image: ResolvedImage | undefined, firstCreate?: FirstCreate): Promise<void> {
  const { spec } = state;
  const attempts = spec.launchAttempts ?? 1;
  const capacityDeadline = Date.now() + spec.missingTimeoutSeconds * 1000;
  let capacityWaitMs = CAPACITY_BACKOFF_FIRST_MS;

  for (let failures = 0; failures < attempts; ) {
    const launch = (state.status.launches ?? 0) + 1;
    state.status.launches = launch;
    try {
      await createAndBoot(state, image, launch, launch === 1 ? firstCreate : undefined);
      countLaunchReady(spec.name);
      return;
    } catch (error) {
      const type = failureType(error);
      if (!isCancellation(error)) countLaunchFailed(spec.name, type);
      if (type === FAILURE_TYPES.createSlotTimeout && state.shape.has('create-slot-wait-spends-no-attempt')) {
        const reason = failureMessage(error);
        state.launchFailed(`launch ${launch}: ${reason}`);
        if (Date.now() >= capacityDeadline) throw noCapacity(spec.missingTimeoutSeconds, reason);
        continue;
      }
      if (!type || !(BOOT_FAILURES.has(type) || NO_CAPACITY.has(type))) throw error;
      const reason = failureMessage(error);
      await deleteLaunchedServer(state);
      state.launchFailed(`launch ${launch}: ${reason}`);
      if (NO_CAPACITY.has(type)) {
        const wait = Math.min(capacityWaitMs, capacityDeadline - Date.now());
        if (wait <= 0) throw noCapacity(spec.missingTimeoutSeconds, reason);
        state.publish();
        await sleep(wait, { summary: `quota full: waiting ${Math.round(wait / 1000)} s for capacity` });
        capacityWaitMs = Math.min(capacityWaitMs * 2, CAPACITY_BACKOFF_MAX_MS);
      } else {
        failures += 1;
      }
    }
  }
  throw ApplicationFailure.nonRetryable(
    `all ${attempts} launch attempts failed: ${(state.status.launchFailures ?? []).join('; ')}`,
    FAILURE_TYPES.launchFailed,
  );
}

async function createAndBoot(state: LifecycleState, image: ResolvedImage | undefined, launch: number, firstCreate: FirstCreate | undefined): Promise<void> {
  const { spec } = state;
  state.enter('creating');
  const server = await createServer(state, launch, {
    ...workerRefOf(spec),
    serverName: serverNameFor(state, launch),
    imageId: image?.id,
    flavor: spec.flavor,
    blockDevices: spec.blockDevices,
    meta: spec.meta,
    novaArgs: spec.novaArgs,
    clientVersion: spec.clientVersion,
    owner: { workflowId: workflowInfo().workflowId, runId: workflowInfo().runId, attempt: launch },
  }, firstCreate);
  state.serverCreated(server.id, server.name);

  state.enter('booting');
  state.publish();
  // The fleet's status watcher of the cloud tells the boot's end; lifecycles that started before it
  // existed replay their own polling activity. A master-defined worker's cloud may be one no worker
  // process has in its config, so no watcher for it: it polls as before.
  const told = state.shape.has('boot-told-by-cloud-watcher');
  if (told && spec.sealedCredentials === undefined) {
    state.mark('activeAt', await waitForBootTold(state, server.id, server.name));
    return;
  }
  await waiting.waitForActive.executeWithOptions({ summary: `wait for ${server.name} to be ACTIVE (boot_timeout ${spec.bootTimeoutSeconds} s)` }, [
    {
      ...workerRefOf(spec),
      serverId: server.id,
      clientVersion: spec.clientVersion,
      deadline: new Date(Date.now() + spec.bootTimeoutSeconds * 1000).toISOString(),
    },
  ]);
  state.mark('activeAt');
}

/**
 * A cancelled lifecycle must not walk away from a create in flight: Nova may be making the server
 * at that very moment, and only the create's answer (or its adoption of the server on a retry)
 * says which server the cleanup has to delete. Abandoning it left the server behind (found by the
 * chaos suite: cancel while creating). So the create runs to its end (its retries are bounded),
 * the server is recorded, and the cancellation then takes effect, with the usual cleanup.
 */
async function createServer(state: LifecycleState, launch: number, input: CreateServerInput, first: FirstCreate | undefined): Promise<CreatedServer> {
  const create = () => {
    if (first && 'taskStartedAt' in first) return createWithinTheTask(state, launch, input, first.taskStartedAt);
    return createAsActivity(state, launch, first ? { ...input, earlierTry: first.earlierTry } : input);
  };
  // Lifecycles that started before this change abandoned the create on cancel; they replay as they ran.
  if (!state.shape.has('create-survives-cancel')) return create();
  const scope = CancellationScope.current();
  // Already cancelled (e.g. while a failed launch's server was being deleted): start nothing new.
  if (scope.consideredCancelled) await scope.cancelRequested;
  return CancellationScope.nonCancellable(create);
}

/**
 * In the prompt-create shape the first create is tried within the run's first workflow task,
 * where most end: a marker in history instead of an activity task, the workflow task after it
 * and the `creating` upsert. A try that falls short (no slot free at once, the cloud slow or
 * failing) hands the create to the activity, told of any POST the try sent and of the cloud's
 * Retry-After; one the cloud refused for good is the launch's failure, as the activity's would be.
 */
async function createWithinTheTask(state: LifecycleState, launch: number, input: CreateServerInput, taskStartedAt: number): Promise<CreatedServer> {
  let tried: PromptCreate;
  try {
    tried = await promptCreation.createServerPromptly.executeWithOptions({ summary: `create server (launch ${launch})` }, [
      { ...input, taskStartedAt, taskTimeoutMs: workflowInfo().taskTimeoutMs },
    ]);
  } catch (error) {
    // Refused for good by the cloud: the launch's own failure, as from the activity.
    const cause = causeOf(error);
    if (cause instanceof ApplicationFailure && cause.nonRetryable) throw error;
    // Ended by its timeout rather than by its own budget: a POST may still be on its way.
    tried = { shortBy: failureMessage(error), earlierTry: { postedAt: Date.now() } };
  }
  if ('server' in tried) return tried.server;
  log.info('the create within the workflow task fell short: the create activity takes over', { workerName: state.spec.name, shortBy: tried.shortBy });
  const { earlierTry, notBefore } = tried;
  return createAsActivity(state, launch, { ...input, ...(earlierTry ? { earlierTry } : {}), ...(notBefore === undefined ? {} : { notBefore }) });
}

function createAsActivity(state: LifecycleState, launch: number, input: CreateServerInput): Promise<CreatedServer> {
  state.publish();
  return cloudCalls.createServer.executeWithOptions({ summary: `create server (launch ${launch})` }, [input]);
}

/** Deletes the current server until Nova no longer has it, even while the lifecycle is being cancelled. */
export async function deleteLaunchedServer(state: LifecycleState): Promise<void> {
  const serverId = state.status.serverId;
  if (!serverId) return;
  state.enter('deleting');
  const outcome = await CancellationScope.nonCancellable(() => deleteUntilGone(state, serverId));
  state.serverDeleted(outcome);
}

/**
 * In the prompt-delete shape the delete is first tried within the workflow task that decided it,
 * where most deletes end; one that takes longer, or fails, is shown as deleting and goes on as an
 * activity that never gives up. Its outcome then counts the first try and says why it fell short.
 */
async function deleteUntilGone(state: LifecycleState, serverId: string): Promise<DeleteOutcome> {
  const ref = { ...workerRefOf(state.spec), serverId };
  const name = state.status.serverName ?? serverId;
  if (!state.shape.promptDelete) return deleteAsActivity(state, name, ref);
  let shortBy: string;
  try {
    return await promptDeletion.deleteServerPromptly.executeWithOptions({ summary: `delete ${name}` }, [ref]);
  } catch (error) {
    shortBy = failureMessage(error);
  }
  const outcome = await deleteAsActivity(state, name, ref);
  return { ...outcome, attempts: outcome.attempts + 1, note: outcome.note ?? `the first try, within the workflow task, fell short: ${shortBy}` };
}

function deleteAsActivity(state: LifecycleState, name: string, ref: ServerRef): Promise<DeleteOutcome> {
  state.publish();
  return deletion.deleteServer.executeWithOptions({ summary: `delete ${name} until gone` }, [ref]);
}

/** Unique per run and launch: see serverNames.ts. */
function serverNameFor(state: LifecycleState, launch: number): string {
  const { runId } = workflowInfo();
  const workerName = state.spec.name;
  // Lifecycles started before names took the run id's random tail keep the names they began with.
  return state.shape.has('unique-server-names') ? serverName(workerName, runId, launch) : serverNameFromRunIdHead(workerName, runId, launch);
}

function noCapacity(missingTimeoutSeconds: number, reason: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`no capacity within missing_timeout (${missingTimeoutSeconds} s): ${reason}`, FAILURE_TYPES.noCapacity);
}

function failureType(error: unknown): string | undefined {
  const cause = causeOf(error);
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function failureMessage(error: unknown): string {
  const cause = causeOf(error);
  return cause instanceof Error ? cause.message : String(cause);
}

/** What an activity failed with; a local activity's failure comes as it was thrown. */
function causeOf(error: unknown): unknown {
  return error instanceof ActivityFailure ? error.cause : error;
}
