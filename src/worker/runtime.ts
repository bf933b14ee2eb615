import type { Logger } from '@temporalio/common';
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { ListenAddress } from '../config/workerOps.js';
import { HISTOGRAM_BUCKETS } from './metrics.js';

/** The signals that start a graceful shutdown; a second one ends the process at once. */
export const SHUTDOWN_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export interface WorkerRuntimeOptions {
  logger: Logger;
  /** Serve Prometheus metrics (the SDK's and ours) on http://ADDRESS/metrics. */
  metrics?: ListenAddress;
}

/**
 * Temporal's runtime for the worker process, installed once before any connection: every log
 * line, the Core SDK's included, goes through `logger`; metrics are exported in Prometheus's
 * conventions (counters end in `_total`, durations in seconds).
 */
export function installWorkerRuntime({ logger, metrics }: WorkerRuntimeOptions): Runtime {
  return Runtime.install({
    logger,
    shutdownSignals: SHUTDOWN_SIGNALS,
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
      ...(metrics && {
        metrics: {
          prometheus: { bindAddress: metrics.hostPort, countersTotalSuffix: true, useSecondsForDurations: true, histogramBucketOverrides: HISTOGRAM_BUCKETS },
        },
      }),
    },
  });
}
