import { sealingKeysFromEnv, type SealingKey } from '../config/sealing.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { log } from '@temporalio/activity';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { notifierFromSettings } from '../activities/notifiers/index.js';
import { createActivities } from '../activities/index.js';
import { CloudRegistry } from '../activities/cloudRegistry.js';
import type { MissingNotifier } from '../activities/notify.js';
import { cloudScopeOf, type LoadedConfig } from '../config/load.js';
import { connectionOptions, type TemporalSettings } from '../client/settings.js';
import { connectOrExplain } from '../client/connectionDiagnosis.js';
import { defaultTuning, workerOptionsFor, type WorkerTuning } from './tuning.js';
import { workflowBundleOption } from './workflowBundle.js';
import { serverActivityObserver } from './activityObserver.js';
import { WorkerMetrics } from './metrics.js';
import { keepStatusWatchers } from './statusWatchers.js';
import { startFleetCensus, workerIdentity, type FleetCensus } from './fleetCensus.js';
import type { StatusWatchOptions } from '../activities/statusWatch.js';

export interface LatentWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  config: LoadedConfig;
  notifier?: MissingNotifier;
  /** The quick tick of each cloud's shared status poller (see ServerWatcher); default 200 ms. */
  pollIntervalMs?: number;
  /** Per-request timeout for OpenStack calls. */
  httpTimeoutMs?: number;
  /** Payload encryption (see src/codec/); the clients of this task queue must use the same. */
  dataConverter?: DataConverter;
  /** Cache, concurrency and pollers (src/worker/tuning.ts); its defaults when omitted. */
  tuning?: WorkerTuning;
  /** A bundle from `npm run bundle:workflows`, instead of bundling the workflows at start. */
  workflowBundlePath?: string;
  /** The process's metrics; by default on the Temporal runtime's meter (which counts nothing unless it exports). */
  metrics?: WorkerMetrics;
  /**
   * After a shutdown request, how long in-flight activities may go on before they are cancelled
   * and their attempt handed back to Temporal for another worker; the SDK's default (0) when absent.
   */
  shutdownGraceSeconds?: number;
  /** Opens the sealed accounts of master-defined workers; LATENT_WORKER_SEALING_KEYS when absent. */
  sealingKeys?: SealingKey[];
  /** How long a create's POST without an answer is given to show its server (tests); 60 s by default. */
  inFlightWaitMs?: number;
  /** How long a create waits for a create slot before its attempt fails (tests); 40 s by default. */
  createSlotWaitMs?: number;
  /** The status watcher's run length and feed tuning (tests, the bench); its defaults when absent. */
  statusWatch?: StatusWatchOptions;
  /**
   * False: this process does not ask for the clouds' status watchers (default true). For Temporal's
   * time-skipping test server, where a watch that never ends would keep time from skipping; the
   * lifecycles' own looks at their servers then see the boots.
   */
  askForStatusWatchers?: boolean;
  /**
   * True: `cloud_limits` hold for the fleet of worker processes on the task queue, each process
   * taking its share from a count of the task queue's pollers every `tuning.fleetCensusSeconds`
   * (src/worker/fleetCensus.ts); it creates nothing until the others have counted it. False
   * (default): this process alone uses the whole limits, as a single embedded worker does.
   */
  fleetLimits?: boolean;
}

export interface LatentWorker {
  worker: Worker;
  clouds: CloudRegistry;
  /** With `fleetLimits`: stop it once the worker has stopped. */
  fleetCensus?: FleetCensus;
}

const SHUTDOWN_FORCE_MARGIN_SECONDS = 10;

/** The worker process: the lifecycle workflow plus activities wired to the configured clouds. */
export async function createLatentWorker(options: LatentWorkerOptions): Promise<LatentWorker> {
  const metrics = options.metrics ?? new WorkerMetrics(Runtime.instance().metricMeter);
  const tuning = options.tuning ?? defaultTuning;
  const identity = workerIdentity();
  const clouds = new CloudRegistry(options.config, {
    initialShares: options.fleetLimits ? () => ({ requestsPerSecond: 0, createSlots: 0 }) : undefined,
    sealingKeys: options.sealingKeys ?? sealingKeysFromEnv(process.env),
    timeoutMs: options.httpTimeoutMs,
    pollIntervalMs: options.pollIntervalMs,
    observer: metrics.openstackRequest,
    watcherHealth: (cloud) => metrics.watcherHealth(cloud),
    rateLimitTurn: (cloud) => metrics.rateLimitTurn(cloud),
    bootPacing: (cloud) => metrics.bootPacing(cloud),
  });
  metrics.initialize(
    options.namespace,
    options.taskQueue,
    [...options.config.workers.keys()].map((workerName) => ({ workerName, cloud: cloudOf(options.config, workerName) })),
  );
  const grace = options.shutdownGraceSeconds;
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    identity,
    ...(options.workflowBundlePath ? workflowBundleOption(options.workflowBundlePath, options.dataConverter) : { workflowsPath: workflowsPath() }),
    dataConverter: options.dataConverter,
    ...workerOptionsFor(tuning),
    interceptors: { activity: [serverActivityObserver(metrics, (workerName) => cloudOf(options.config, workerName))] },
    sinks: metrics.lifecycleSinks(),
    // Past the grace period, an activity that ignores its cancellation must not hold the process:
    // run() then rejects and the process exits with an error, its tasks retried elsewhere.
    ...(grace === undefined ? {} : { shutdownGraceTime: grace * 1000, shutdownForceTime: (grace + SHUTDOWN_FORCE_MARGIN_SECONDS) * 1000 }),
    activities: createActivities({
      clouds,
      notifier: options.notifier ?? notifierFromSettings(options.config.notify, log),
      deployment: options.config.deployment,
      onUndeletable: (workerName) => metrics.serverUndeletable(workerName),
      undeletableAfterMs: options.config.deletes.reportAfterSeconds * 1000,
      inFlightWaitMs: options.inFlightWaitMs,
      createSlotWaitMs: options.createSlotWaitMs,
      statusWatch: options.statusWatch,
    }),
  });
  const fleetCensus = options.fleetLimits
    ? startFleetCensus({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: options.taskQueue,
        identity,
        clouds,
        intervalMs: tuning.fleetCensusSeconds * 1000,
        logger: Runtime.instance().logger,
        onShares: (fleetSize, shares) => metrics.fleetShares(options.taskQueue, fleetSize, shares),
      })
    : undefined;
  if (options.askForStatusWatchers === false) return { worker, clouds, fleetCensus };
  await keepStatusWatchers({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    deployment: options.config.deployment,
    clouds,
    worker,
    dataConverter: options.dataConverter,
    logger: Runtime.instance().logger,
  }).asked;
  return { worker, clouds, fleetCensus };
}

/** The cloud label of the metrics; `unknown` for a name the config no longer has. */
function cloudOf(config: LoadedConfig, workerName: string): string {
  const worker = config.workers.get(workerName);
  return worker ? cloudScopeOf(worker.credentials) : 'unknown';
}

/** The worker's connection: the same address, TLS, API key and headers as the clients'. */
export async function connectWorker(settings: TemporalSettings | string): Promise<NativeConnection> {
  if (typeof settings === 'string') return NativeConnection.connect({ address: settings });
  return connectOrExplain(settings, () => NativeConnection.connect(connectionOptions(settings)));
}

/**
 * A replay of lifecycle histories runs the workflow as a worker does: the same workflows and the
 * same metric sinks. The sinks are never called while a history replays (a replayed lifecycle is
 * not counted twice), but the SDK logs an error for each call to a sink it was not given.
 */
export function replayOptions(metrics: WorkerMetrics): ReplayWorkerOptions {
  return { workflowsPath: workflowsPath(), sinks: metrics.lifecycleSinks() };
}

/** The workflows' entry file: compiled JavaScript in dist/, TypeScript when run from source. */
export function workflowsPath(): string {
  const compiled = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
  return existsSync(compiled) ? compiled : compiled.replace(/\.js$/, '.ts');
}
