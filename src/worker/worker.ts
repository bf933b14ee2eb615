import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { log } from '@temporalio/activity';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { notifierFromSettings } from '../activities/notifiers/index.js';
import { createActivities } from '../activities/index.js';
import { CloudRegistry } from '../activities/cloudRegistry.js';
import type { MissingNotifier } from '../activities/notify.js';
import type { LoadedConfig } from '../config/load.js';
import { defaultTuning, workerOptionsFor, type WorkerTuning } from './tuning.js';
import { workflowBundleOption } from './workflowBundle.js';

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
}

export interface LatentWorker {
  worker: Worker;
  clouds: CloudRegistry;
}

/** The worker process: the lifecycle workflow plus activities wired to the configured clouds. */
export async function createLatentWorker(options: LatentWorkerOptions): Promise<LatentWorker> {
  const clouds = new CloudRegistry(options.config, { timeoutMs: options.httpTimeoutMs, pollIntervalMs: options.pollIntervalMs });
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundlePath ? workflowBundleOption(options.workflowBundlePath, options.dataConverter) : { workflowsPath: workflowsPath() }),
    dataConverter: options.dataConverter,
    ...workerOptionsFor(options.tuning ?? defaultTuning),
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
