import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { log } from '@temporalio/activity';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { notifierFromSettings } from '../activities/notifiers/index.js';
import { createActivities } from '../activities/index.js';
import { CloudRegistry } from '../activities/cloudRegistry.js';
import type { MissingNotifier } from '../activities/notify.js';
import type { LoadedConfig } from '../config/load.js';
import { defaultTuning, workerOptionsFor, type WorkerTuning } from './tuning.js';
import { workflowBundleOption } from './workflowBundle.js';
import { serverActivityObserver } from './activityObserver.js';
import { WorkerMetrics } from './metrics.js';

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
}

export interface LatentWorker {
  worker: Worker;
  clouds: CloudRegistry;
}

const SHUTDOWN_FORCE_MARGIN_SECONDS = 10;

/** The worker process: the lifecycle workflow plus activities wired to the configured clouds. */
export async function createLatentWorker(options: LatentWorkerOptions): Promise<LatentWorker> {
  const metrics = options.metrics ?? new WorkerMetrics(Runtime.instance().metricMeter);
  const clouds = new CloudRegistry(options.config, { timeoutMs: options.httpTimeoutMs, pollIntervalMs: options.pollIntervalMs, observer: metrics.openstackRequest });
  const grace = options.shutdownGraceSeconds;
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundlePath ? workflowBundleOption(options.workflowBundlePath, options.dataConverter) : { workflowsPath: workflowsPath() }),
    dataConverter: options.dataConverter,
    ...workerOptionsFor(options.tuning ?? defaultTuning),
    interceptors: { activity: [serverActivityObserver(metrics)] },
    // Past the grace period, an activity that ignores its cancellation must not hold the process:
    // run() then rejects and the process exits with an error, its tasks retried elsewhere.
    ...(grace === undefined ? {} : { shutdownGraceTime: grace * 1000, shutdownForceTime: (grace + SHUTDOWN_FORCE_MARGIN_SECONDS) * 1000 }),
    activities: createActivities({
      clouds,
      notifier: options.notifier ?? notifierFromSettings(options.config.notify, log),
      deployment: options.config.deployment,
    }),
  });
  return { worker, clouds };
}

export async function connectWorker(address: string): Promise<NativeConnection> {
  return NativeConnection.connect({ address });
}

/** The workflows' entry file: compiled JavaScript in dist/, TypeScript when run from source. */
export function workflowsPath(): string {
  const compiled = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
  return existsSync(compiled) ? compiled : compiled.replace(/\.js$/, '.ts');
}
